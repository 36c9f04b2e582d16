"""Issue 9, "Scale": `labdeck serve --workers N` is N processes behind the
service's one address. Real `labdeck serve` processes on PostgreSQL, started
as the Hub starts its service (`python -m labdeck.cli serve`, settings in the
environment; no request here needs the Hub itself): every worker takes
connections on the one port, a worker that dies is replaced while the
others keep answering, and none outlives the first (SIGTERM, or SIGKILL)."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from servers import free_port, hub_service_env, listens_on, start_hub_service
from traitlets import TraitError

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import apikeys
from labdeck.extension.service import WORKERS_ENV, LabdeckService

PREFIX = "/services/labdeck/labdeck/api"
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def workers(self) -> list[psutil.Process]:
        """Every process listening on the service's port."""
        first = psutil.Process(self.proc.pid)
        every = [first, *first.children()]
        return [p for p in every if listens_on(p, self.port)]

    def wait_for_workers(self, count: int, timeout: float = 90.0) -> list[psutil.Process]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listening = self.workers()
            if len(listening) == count:
                return listening
            time.sleep(0.2)
        raise AssertionError(f"{count} workers never listened: {self.log.read_text()[-3000:]}")


@contextmanager
def serve(database_url: str, tmp_path: Path, workers: int) -> Iterator[Service]:
    port = free_port()
    env = hub_service_env(database_url, tmp_path, port) | {WORKERS_ENV: str(workers)}
    proc, log = start_hub_service(env, tmp_path, port)
    service = Service(proc, port, log)
    try:
        yield service
    finally:
        if proc.poll() is None:
            survivors = psutil.Process(proc.pid).children()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            psutil.wait_procs(survivors, timeout=30)


def _me(port: int, key: str) -> tuple[http.client.HTTPConnection, str]:
    """GET /me on a connection of its own, left open (it stays with the worker
    that accepted it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"{PREFIX}/me", headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, body
    return conn, json.loads(body)["username"]


def _status(port: int, key: str, workers: list[psutil.Process]) -> tuple[int, int]:
    """GET /me on a new connection: the status, and the worker that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"{PREFIX}/me", headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    response.read()
    try:
        return response.status, _worker_of(conn, workers)
    finally:
        conn.close()


def _worker_of(conn: http.client.HTTPConnection, workers: list[psutil.Process]) -> int:
    """The pid of the worker holding the server end of `conn`."""
    assert conn.sock is not None
    mine = conn.sock.getsockname()[1]
    for worker in workers:
        for c in worker.net_connections("tcp"):
            if c.raddr and c.raddr.port == mine and c.status == psutil.CONN_ESTABLISHED:
                return worker.pid
    raise AssertionError(f"no worker holds the connection from port {mine}")


@ON_POSTGRES
def test_every_worker_answers_on_the_one_port_and_a_dead_one_is_replaced(
    database_url: str, backend: Backend, make_user: Callable[..., Actor], tmp_path: Path
) -> None:
    alice = make_user("alice")
    created = apikeys.create_key(backend, alice, "kernel")
    key, key_id = created["secret"], created["id"]
    with serve(database_url, tmp_path, workers=3) as service:
        workers = service.wait_for_workers(3)
        # 30 connections over 3 workers: all on one or two of them has a chance of 2e-5.
        conns = [_me(service.port, key) for _ in range(30)]
        assert {name for _, name in conns} == {"alice"}
        holders = {_worker_of(conn, workers) for conn, _ in conns}
        for conn, _ in conns:
            conn.close()
        assert holders == {w.pid for w in workers}

        victim = next(w for w in workers if w.pid != service.proc.pid)
        victim.kill()
        victim.wait(timeout=10)
        # The others answer while it is away, and it is back within seconds.
        for _ in range(10):
            _me(service.port, key)[0].close()
        replaced = service.wait_for_workers(3, timeout=60)
        assert victim.pid not in {w.pid for w in replaced}
        assert f"(pid {victim.pid}) exited" in service.log.read_text()
        conns = [_me(service.port, key) for _ in range(30)]
        assert {_worker_of(conn, replaced) for conn, _ in conns} == {w.pid for w in replaced}
        for conn, _ in conns:
            conn.close()
        # Revoked by another process (this test's own service call): every
        # worker, the replaced one too, forgets the key as the revocation
        # commits, not a cache lifetime (30 s) later.
        apikeys.revoke_key(backend, alice, key_id)
        revoked = time.monotonic()
        while _status(service.port, key, replaced)[0] != 401:
            assert time.monotonic() - revoked < 1.0, "a worker still took the revoked key"
        answers = [_status(service.port, key, replaced) for _ in range(30)]
        assert {status for status, _ in answers} == {401}
        assert {pid for _, pid in answers} == {w.pid for w in replaced}
        others = [w for w in replaced if w.pid != service.proc.pid]
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=60) == 0
        gone, alive = psutil.wait_procs(others, timeout=30)
        assert not alive, f"workers outlived the first: {[p.pid for p in alive]}"


@ON_POSTGRES
def test_workers_do_not_outlive_a_killed_first_worker(database_url: str, tmp_path: Path) -> None:
    with serve(database_url, tmp_path, workers=2) as service:
        workers = service.wait_for_workers(2)
        others = [w for w in workers if w.pid != service.proc.pid]
        service.proc.kill()
        service.proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(others, timeout=30)
        assert not alive, f"workers outlived the first: {[p.pid for p in alive]}"


def test_the_worker_count_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("0", "65", "-1"):
        with pytest.raises(TraitError, match="between 1 and 64"):
            LabdeckService().parse_command_line(["--workers", bad])
    monkeypatch.setenv(WORKERS_ENV, "many")
    with pytest.raises(TraitError, match=f"{WORKERS_ENV} must be a whole number"):
        LabdeckService().parse_command_line([])
    monkeypatch.setenv(WORKERS_ENV, "0")
    with pytest.raises(TraitError, match="between 1 and 64"):
        LabdeckService().parse_command_line([])
    monkeypatch.setenv(WORKERS_ENV, "4")
    assert LabdeckService().workers == 4
    app = LabdeckService()
    app.parse_command_line(["--workers", "2"])
    assert app.workers == 2
    for where in (["--port", "0"], ["--sock", "/tmp/labdeck.sock"]):
        with pytest.raises(TraitError, match="needs a TCP port of its own"):
            LabdeckService().parse_command_line(["--workers", "2", *where])
