"""Exactly once across an SMTP outage and a restart of the server process:
the SMTP server is down, three alerts are raised, the Jupyter server (a real
process, its deliverer retrying) is stopped and started again, the SMTP
server comes back: each message arrives once (F-US-4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mailpeers import SmtpPeer, smtp_settings
from servers import free_port, wait_until_answering
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.models import Notification
from labdeck.backend.services import alerts


@contextmanager
def jupyter_server(tmp_path: Path, database_url: str, smtp_port: int, n: int) -> Iterator[None]:
    port = free_port()
    env = {
        **os.environ,
        "LABDECK_DATABASE_URL": database_url,
        "LABDECK_STORAGE_URL": (tmp_path / "storage").as_uri(),
        "LABDECK_DELIVERY_INTERVAL": "0.2",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        **{f"LABDECK_{k.upper()}": str(v) for k, v in smtp_settings(smtp_port).items()},
    }
    env.pop("LABDECK_API_KEY", None)
    env.pop("LABDECK_SERVICE_URL", None)
    log = tmp_path / f"server-{n}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "server",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--ServerApp.root_dir={tmp_path}",
                "--ServerApp.jpserver_extensions=labdeck=True",
                "--IdentityProvider.token=secret",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/api/status", proc, log)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def _rows(backend: Backend) -> list[Notification]:
    with backend.db.reader() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def _until(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_smtp_outage_and_server_restart_deliver_each_message_exactly_once(
    tmp_path: Path, database_url: str, backend: Backend, make_user: Callable[..., Actor]
) -> None:
    alice = make_user("alice")
    smtp = SmtpPeer()  # down: connections are refused
    with jupyter_server(tmp_path, database_url, smtp.port, 1):
        for n in range(3):
            alerts.send_alert(backend, alice, f"outage {n}")
        # The server tried each (and failed), and keeps them for a retry.
        _until(lambda: all(r.attempts >= 1 for r in _rows(backend)) and len(_rows(backend)) == 3)
    assert all(r.sent_at is None and r.failed_at is None for r in _rows(backend))
    assert all(r.lease_owner == "" for r in _rows(backend)), "a clean stop hands its rows back"
    smtp.start()
    try:
        with jupyter_server(tmp_path, database_url, smtp.port, 2):
            smtp.inbox.wait_for(3, timeout=90)
            _until(lambda: all(r.sent_at is not None for r in _rows(backend)))
            time.sleep(1.5)  # several more rounds of the deliverer: nothing more
    finally:
        smtp.stop()
    subjects = sorted(str(m.message["Subject"]) for m in smtp.inbox.received)
    assert subjects == [f"[labdeck] INFO: outage {n}" for n in range(3)]
    assert all(m.rcpt_tos == ["alice@example.org"] for m in smtp.inbox.received)
