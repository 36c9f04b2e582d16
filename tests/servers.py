"""Helpers for tests that run real servers and peers: a free port on
127.0.0.1 (never a fixed one: other test runs share this machine), waiting
until a server answers, an HTTP peer in a thread, code run in a kernel."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from tornado import web
from tornado.httpserver import HTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answering(
    url: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 120.0,
    *,
    status: int | None = None,
) -> None:
    """Until `url` answers (with `status`, when given: a proxy answers 404
    for a route not registered yet); fails with the end of the server's log
    if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                code = response.status
        except urllib.error.HTTPError as err:
            code = err.code
        except OSError:
            code = None
        if code is not None and (status is None or code == status):
            return
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s: {log.read_text()[-3000:]}")


def execute_in_kernel(connection_file: Path, code: str, timeout: float = 240.0) -> str:
    """Run `code` in a running kernel (one a Jupyter server started, found by
    its connection file) and return what it printed; fails on an error."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels(hb=False)  # no heartbeat: a slow start is not a death
    try:
        client.wait_for_ready(timeout=timeout)
        printed: list[str] = []

        def keep(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                printed.append("\n".join(msg["content"]["traceback"]))

        reply = client.execute_interactive(code, timeout=timeout, output_hook=keep)
        assert reply["content"]["status"] == "ok", "".join(printed)
    finally:
        client.stop_channels()
    return "".join(printed)


@contextmanager
def tornado_in_thread(app: web.Application) -> Iterator[int]:
    """Serve `app` on a free 127.0.0.1 port from a thread with a loop of its
    own: a peer that answers while the server under test (on the test's
    loop) waits on it. Yields the port."""
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = HTTPServer(app)
        server.listen(port, "127.0.0.1")
        loop.call_soon(ready.set)
        loop.run_forever()
        server.stop()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def listens_on(process: psutil.Process, port: int) -> bool:
    """Whether `process` has a socket listening on `port` (False once it is gone)."""
    try:
        connections = process.net_connections("tcp")
    except psutil.NoSuchProcess:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def hub_service_env(database_url: str, tmp_path: Path, port: int) -> dict[str, str]:
    """The environment the Hub gives `labdeck serve` as a managed service
    (docs/hub.md), for a service run without a Hub: this process's own, less
    any LABDECK_/JUPYTERHUB_ setting, plus the database, a store, Jupyter's
    folders under `tmp_path`, and the Hub's variables (a Hub API URL where
    nothing listens: only Hub tokens would need it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABDECK_", "JUPYTERHUB_"))}
    return env | {
        "LABDECK_DATABASE_URL": database_url,
        "LABDECK_STORAGE_URL": (tmp_path / "storage").as_uri(),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/labdeck/",
        "JUPYTERHUB_SERVICE_NAME": "labdeck",
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{free_port()}/hub/api",
        "JUPYTERHUB_API_TOKEN": "unused-by-this-test",
    }


def start_hub_service(
    env: dict[str, str], tmp_path: Path, port: int
) -> tuple[subprocess.Popen[bytes], Path]:
    """`labdeck serve` started as the Hub starts its service (with `env`, e.g.
    `hub_service_env`), its output in `tmp_path`/serve.log; returned once it
    answers on `port`. The caller stops it."""
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labdeck.cli", "serve", "--ServerApp.allow_root=True"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    openapi = f"http://127.0.0.1:{port}/services/labdeck/labdeck/api/openapi.json"
    try:
        wait_until_answering(openapi, proc, log, status=200)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, log
