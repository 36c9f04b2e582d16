"""F-ID-1 in a real single-user jupyter_server, as a new user runs it: with
token authentication and with password authentication (jupyter_server's
default `PasswordIdentityProvider` either way), and with none at all.

Requests by `Authorization: token`, by `?token=`, and two separate browser
cookie sessions (Playwright, Debian chromium) all act as one account: the
server's owner, the OS account the server runs as. A kernel started by that
server records `labdeck.monitor()` as the same account, the browser sees
that run, and the users table holds exactly one row, although the kernel's
environment says `JUPYTERHUB_USER=intruder`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import passwd
from playwright.sync_api import Browser, Page
from servers import execute_in_kernel, free_port, wait_until_answering
from sqlalchemy import func, select

from labdeck.backend.context import Backend
from labdeck.backend.models import User
from labdeck.backend.services import identity

PASSWORD = "correct horse battery staple"
TOKEN = "single-user-test-token"


@dataclass
class Server:
    url: str
    token: str
    auth: str
    database_url: str
    runtime_dir: Path
    log: Path

    def call(self, path: str, *, header: bool = True, query: bool = False) -> tuple[int, Any]:
        url = f"{self.url}{path}"
        if query:
            url += f"?token={self.token}"
        request = urllib.request.Request(url)
        if header:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())


@pytest.fixture(params=["token", "password", "none"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    auth = request.param
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'labdeck.db'}"
    runtime = tmp_path / "runtime"
    env = {
        **os.environ,
        "LABDECK_DATABASE_URL": database_url,
        "LABDECK_STORAGE_URL": (tmp_path / "storage").as_uri(),
        "LABDECK_FLUSH_INTERVAL": "0.3",
        # Declared, never proven: neither may name the account.
        "JUPYTERHUB_USER": "intruder",
        "USER": "intruder",
        "LOGNAME": "intruder",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
    }
    env.pop("LABDECK_API_KEY", None)
    env.pop("LABDECK_SERVICE_URL", None)
    args = [
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
    ]
    token = TOKEN if auth in ("token", "password") else ""
    args.append(f"--IdentityProvider.token={token}")
    if auth == "password":
        args.append(f"--PasswordIdentityProvider.hashed_password={passwd(PASSWORD)}")
    if auth == "none":
        args.append("--ServerApp.disable_check_xsrf=True")
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(f"{url}/api/status", proc, log)
    yield Server(url, token, auth, database_url, runtime, log)
    proc.terminate()
    proc.wait(timeout=30)


def browser_session(browser: Browser, server: Server) -> Page:
    """A fresh browser session (its own cookie jar), signed in as a person
    would: the token link, the password form, or nothing to sign in to."""
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    if server.auth == "token":
        page.goto(f"{server.url}/api/status?token={server.token}")
    elif server.auth == "password":
        page.goto(f"{server.url}/login")
        page.fill("input[type=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
    # Any page the server renders hands the browser its XSRF cookie.
    page.goto(f"{server.url}/labdeck-test-page")
    assert any(c["name"] == "_xsrf" for c in page.context.cookies())
    return page


def fetch_json(page: Page, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """`fetch` from the page: the cookie session, and the XSRF token a
    browser sends on a write, exactly as JupyterLab does."""
    result: dict[str, Any] = page.evaluate(
        """async ([origin, path, method, body]) => {
            const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
            const headers = {"Content-Type": "application/json"};
            if (xsrf) headers["X-XSRFToken"] = decodeURIComponent(xsrf);
            const r = await fetch(origin + path, {
                method, headers, credentials: "same-origin",
                body: body === null ? undefined : JSON.stringify(body),
            });
            return {status: r.status, text: await r.text()};
        }""",
        [server_origin(page), path, method, body],
    )
    text = result["text"]
    return int(result["status"]), json.loads(text) if text else None


def server_origin(page: Page) -> str:
    return page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2]


KERNEL_CODE = """
import os, time, json
import labdeck
os.environ["JUPYTERHUB_USER"] = "intruder"
with labdeck.monitor(project="identity", interval=0.2) as run:
    time.sleep(1.5)
print(json.dumps({"run": run.id, "pid": os.getpid()}))
"""


def run_in_kernel(server: Server, code: str) -> dict[str, Any]:
    """Start a kernel through the server's REST API (so it inherits what the
    server exports) and execute `code` in it."""
    status, kernel = server.post("/api/kernels", {"name": "python3"})
    assert status == 201
    printed = execute_in_kernel(server.runtime_dir / f"kernel-{kernel['id']}.json", code)
    return dict(json.loads(printed.strip().splitlines()[-1]))


def test_every_way_in_is_the_server_owner(server: Server, browser: Browser) -> None:
    owner = identity.server_owner()
    assert owner != "intruder"
    names = set()
    if server.token:
        code, me = server.call("/labdeck/api/me")  # Authorization: token
        assert code == 200, me
        names.add(me["username"])
        code, me = server.call("/labdeck/api/me", header=False, query=True)  # ?token=
        assert code == 200, me
        names.add(me["username"])
    else:
        for _ in range(3):  # no authentication: each request is a new anonymous user
            code, me = server.call("/labdeck/api/me", header=False)
            assert code == 200, me
            names.add(me["username"])
    first, second = browser_session(browser, server), browser_session(browser, server)
    for page in (first, second):
        code, me = fetch_json(page, "/labdeck/api/me")
        assert code == 200, me
        names.add(me["username"])
    # A browser write (XSRF-checked) lands on the same account.
    code, patched = fetch_json(first, "/labdeck/api/me", "PATCH", {"institution": "Lab"})
    assert code == 200 and patched["username"] in names, patched

    recorded = run_in_kernel(server, KERNEL_CODE)
    code, run = fetch_json(second, f"/labdeck/api/runs/{recorded['run']}")
    assert code == 200, run
    names.add(run["created_by"])
    assert names == {owner}, (names, server.log.read_text()[-2000:])
    code, listed = fetch_json(second, f"/labdeck/api/projects/{owner}/identity/runs")
    assert code == 200 and [r["id"] for r in listed["items"]] == [recorded["run"]]
    assert fetch_json(first, "/labdeck/api/me")[1]["institution"] == "Lab"

    backend = Backend.open(server.database_url, upgrade=False)
    try:
        with backend.db.reader() as session:
            assert session.scalar(select(func.count()).select_from(User)) == 1
            (user,) = session.scalars(select(User))
            assert (user.username, user.external_name, user.account_type) == (
                owner,
                owner,
                "admin",
            )
    finally:
        backend.db.dispose()
