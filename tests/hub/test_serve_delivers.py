"""Issue 14 item 1: the deliverer is started by `labdeck serve` (the Hub
service), not only by a user's Jupyter server. A real `labdeck serve`
process, started as the Hub starts it (`python -m labdeck.cli serve` with
`LABDECK_*` settings in its environment, docs/hub.md) but without a Hub
(no request is made that needs one), owns a database whose outbox holds a
queued alert: the mail reaches a real SMTP server (aiosmtpd) on 127.0.0.1,
once, and the row is marked sent."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from mailpeers import smtp_peer, smtp_settings
from servers import free_port, hub_service_env, start_hub_service
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.models import Notification
from labdeck.backend.services import alerts


def test_labdeck_serve_runs_the_deliverer(
    backend: Backend, make_user: Callable[..., Actor], database_url: str, tmp_path: Path
) -> None:
    alice = make_user("alice")
    # Queued before the service starts: nobody else drains this database.
    alerts.send_alert(backend, alice, "disk almost full", text="on the training box")
    with backend.db.reader() as session:
        (row,) = session.scalars(select(Notification))
    assert row.sent_at is None and row.recipient == "alice@example.org"

    port = free_port()
    with smtp_peer() as smtp:
        env = hub_service_env(database_url, tmp_path, port) | {
            "LABDECK_DELIVERY_INTERVAL": "0.2",
            **{f"LABDECK_{k.upper()}": str(v) for k, v in smtp_settings(smtp.port).items()},
        }
        proc, log = start_hub_service(env, tmp_path, port)
        try:
            (mail,) = smtp.inbox.wait_for(1)
            time.sleep(1.0)  # a second send would arrive within a few rounds
            assert len(smtp.inbox.received) == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert mail.rcpt_tos == ["alice@example.org"]
    assert "disk almost full" in mail.message["Subject"]
    assert "on the training box" in mail.text
    with backend.db.reader() as session:
        (row,) = session.scalars(select(Notification))
    assert row.sent_at is not None and row.attempts == 1
