"""A real JupyterHub on 127.0.0.1 (free ports), as docs/hub.md deploys it:
the `configurable-http-proxy` npm package (installed by scripts/test into
.hub-proxy/), `SimpleLocalProcessSpawner`, `DummyAuthenticator` with a
password, and `labdeck serve` as a managed service on a PostgreSQL database
of its own. The test drives it through the Hub's REST API with the token of
a `test-driver` service.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hub_excerpt import labdeck_excerpt
from servers import free_port, wait_until_answering
from sqlalchemy import create_engine, text

ROOT = Path(__file__).parent.parent.parent
PROXY = ROOT / ".hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
BIN = Path(sys.executable).parent
PASSWORD = "hub-test-password"
DRIVER_TOKEN = "labdeck-test-driver-" + uuid.uuid4().hex
USERS = ("alice", "bob", "ada")
HUB_ADMINS = ("ada",)


def hub_config(tmp: Path, ports: dict[str, int], database_url: str, public: str) -> str:
    """The Hub's jupyterhub_config.py: the labdeck excerpt of docs/hub.md,
    between test plumbing (where, who, the test driver)."""
    excerpt = labdeck_excerpt(ports["service"], database_url, (tmp / "storage").as_uri(), public)
    return f"""
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {ports["public"]}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {ports["hub"]}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.JupyterHub.db_url = "sqlite:///{tmp / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = "{tmp / "cookie_secret"}"
c.JupyterHub.pid_file = "{tmp / "jupyterhub.pid"}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {set(HUB_ADMINS)!r}
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp / "home" / "{username}"}"
c.Spawner.cmd = [{str(BIN / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180

{excerpt}

# Test plumbing: these tests run as root; a revocation shows within 2 s; the
# kernels flush every second; the test drives the Hub with a service token.
c.JupyterHub.services[0]["command"] += ["--allow-root", "--HubAuth.cache_max_age=2"]
c.Spawner.environment["LABDECK_FLUSH_INTERVAL"] = "1"
c.JupyterHub.services.append({{"name": "test-driver", "api_token": {DRIVER_TOKEN!r}}})
c.JupyterHub.load_roles.append(
    {{
        "name": "test-driver",
        "services": ["test-driver"],
        "scopes": [
            "admin:users", "admin:servers", "admin:server_state", "tokens", "list:users",
        ],
    }}
)
"""


@dataclass
class Hub:
    public: str
    database_url: str
    tmp: Path
    log: Path
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)

    def hub_api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.request(method, f"/hub/api{path}", f"token {DRIVER_TOKEN}", body)

    def request(
        self, method: str, path: str, authorization: str | None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        data = json.dumps(body).encode() if body is not None else None
        if data is None and method in ("POST", "PATCH", "PUT"):
            data = b"{}"
        request = urllib.request.Request(
            f"{self.public}{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def service(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        """Straight to the labdeck service, through the Hub's proxy."""
        return self.request(method, f"/services/labdeck/labdeck/api{path}", f"token {token}", body)

    def via_server(
        self, user: str, method: str, path: str, token: str, body: Any = None
    ) -> tuple[int, Any]:
        """Through `user`'s own single-user server, which forwards to the service."""
        return self.request(method, f"/user/{user}/labdeck/api{path}", f"token {token}", body)

    def new_token(self, user: str, scopes: list[str], expires_in: int | None = None) -> dict:
        body: dict[str, Any] = {"scopes": scopes, "note": "labdeck test"}
        if expires_in is not None:
            body["expires_in"] = expires_in
        status, token = self.hub_api("POST", f"/users/{user}/tokens", body)
        assert status == 201, token
        return dict(token)

    def server_pid(self, user: str) -> int:
        status, model = self.hub_api("GET", f"/users/{user}")
        assert status == 200, model
        return int(model["servers"][""]["state"]["pid"])

    def service_pids(self) -> list[int]:
        """Every `labdeck serve` process of this Hub: the one it started, first,
        and the other workers that one started (`LABDECK_SERVE_WORKERS`)."""
        out = subprocess.run(
            ["pgrep", "-f", "labdeck.cli serve"], capture_output=True, text=True
        ).stdout.split()
        own = [int(p) for p in out if _parent_chain_has(int(p), self.proc.pid)]
        first = [p for p in own if _parent(p) not in own]
        assert len(first) == 1, out
        return first + [p for p in own if p != first[0]]

    def service_pid(self) -> int:
        """The `labdeck serve` process the Hub started."""
        return self.service_pids()[0]


def _parent(pid: int) -> int:
    """The parent of `pid`, 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _parent_chain_has(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = _parent(pid)
    return False


def _wait_ready(hub: Hub, user: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, model = hub.hub_api("GET", f"/users/{user}")
        server = (model or {}).get("servers", {}).get("")
        if server and server.get("ready"):
            return
        if hub.proc.poll() is not None:
            break
        time.sleep(1)
    raise RuntimeError(f"{user}'s server did not start: {hub.log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def hub_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of the service's own, dropped afterwards."""
    admin_url = postgres_url.rsplit("/", 1)[0] + "/postgres"
    name = f"labdeck_hub_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, hub_database: str) -> Iterator[Hub]:
    if not PROXY.exists():
        pytest.fail(
            f"{PROXY} is missing: scripts/test installs it "
            "(npm install --prefix .hub-proxy configurable-http-proxy@5)"
        )
    tmp = tmp_path_factory.mktemp("hub")
    ports = {name: free_port() for name in ("public", "hub", "proxy_api", "service")}
    public = f"http://127.0.0.1:{ports['public']}"
    (tmp / "jupyterhub_config.py").write_text(hub_config(tmp, ports, hub_database, public))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABDECK_", "JUPYTERHUB_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    log = tmp / "hub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
            cwd=tmp,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(public, hub_database, tmp, log, proc)
    try:
        wait_until_answering(f"{public}/hub/api/", proc, log, timeout=180, status=200)
        openapi = f"{public}/services/labdeck/labdeck/api/openapi.json"
        wait_until_answering(openapi, proc, log, timeout=180, status=200)
        for user in USERS:
            status, body = hub.hub_api("POST", f"/users/{user}")
            assert status in (201, 409), body
        for user in ("alice", "bob"):
            status, body = hub.hub_api("POST", f"/users/{user}/server")
            assert status in (201, 202), body
        for user in ("alice", "bob"):
            _wait_ready(hub, user)
        for user in USERS:
            hub.tokens[user] = hub.new_token(
                user, ["access:services!service=labdeck", f"access:servers!user={user}"]
            )["token"]
        yield hub
    finally:
        for user in ("alice", "bob"):
            hub.hub_api("DELETE", f"/users/{user}/server")
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        shutil.rmtree(tmp / "home", ignore_errors=True)
