"""/me over HTTP: profile and image, account deletion, beta features, alert
settings, storage, export, custom alerts and the GitHub integration."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from PIL import Image

from labdeck.backend.services import teams
from labdeck.extension import schemas


def check(body: Any, schema: dict[str, Any]) -> None:
    jsonschema.validate(body, schema)


async def fetch_raw(jp_fetch: Any, api: Any, path: str) -> tuple[int, Any, bytes]:
    """A binary answer (the `Api` client decodes JSON by Content-Type)."""
    response = await jp_fetch(
        "labdeck",
        "api",
        *path.strip("/").split("/"),
        headers={"Authorization": f"Bearer {api.key}"},
        raise_error=False,
    )
    return response.code, response.headers, response.body


def png(colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(out, "PNG")
    return out.getvalue()


async def test_profile_image_and_account_deletion(api_as, make_user, backend, jp_fetch):
    bob = make_user("bob", admin=True)  # the first account is an admin anyway
    alice = make_user("alice")
    api, bob_api = api_as(alice), api_as(bob)

    code, me = await api("GET", "/me")
    assert code == 200
    check(me, schemas.PROFILE)
    assert me["username"] == "alice" and me["account_type"] == "user"
    assert me["avatar_url"] is None

    code, me = await api("PATCH", "/me", {"name": "Alice A.", "website": "https://a.example"})
    assert code == 200 and me["name"] == "Alice A." and me["website"] == "https://a.example"
    code, err = await api("PATCH", "/me", {"website": "javascript:alert(1)"})
    assert code == 422 and err["field"] == "website" and err["error"] == "invalid"
    code, err = await api("PATCH", "/me", {"username": "mallory"})
    assert code == 422 and err["field"] == "username"
    code, err = await api("PATCH", "/me", raw=b"[1, 2]")
    assert code == 400 and err["error"] == "malformed"

    code, me = await api("PUT", "/me/avatar", raw=png())
    assert code == 200 and me["avatar_url"] == "/labdeck/api/users/alice/avatar"
    code, _, picture = await fetch_raw(jp_fetch, bob_api, "/users/alice/avatar")
    assert code == 200 and picture.startswith(b"\x89PNG")
    code, err = await api("PUT", "/me/avatar", raw=b"not an image")
    assert code == 422 and err["field"] == "avatar"
    code, _ = await api("DELETE", "/me/avatar")
    assert code == 204
    code, err = await bob_api("GET", "/users/alice/avatar")
    assert code == 404 and err["error"] == "not_found"

    code, err = await api("DELETE", "/me", {"confirm": "bob"})
    assert code == 422 and err["field"] == "confirm"
    code, err = await api("DELETE", "/me", {})
    assert code == 422 and err["field"] == "confirm"
    teams.create_team(backend, bob, "lab", "work", "acme")
    code, err = await bob_api("DELETE", "/me", {"confirm": "bob"})
    assert code == 409 and "last admin" in err["message"]
    code, _ = await api("DELETE", "/me", {"confirm": "alice"})
    assert code == 204
    code, err = await api("GET", "/me")
    assert code == 401


async def test_settings_storage_export_and_alerts(api_as, make_user, jp_fetch):
    alice = make_user("alice")
    api = api_as(alice)

    code, flags = await api("GET", "/me/beta-features")
    assert code == 200 and flags and not any(f["enabled"] for f in flags)
    check(flags, schemas.array(schemas.BETA_FEATURE))
    name = flags[0]["name"]
    code, flags = await api("PATCH", "/me/beta-features", {name: True})
    assert code == 200 and {f["name"]: f["enabled"] for f in flags}[name] is True
    code, err = await api("PATCH", "/me/beta-features", {"warp_drive": True})
    assert code == 422 and err["field"] == "warp_drive"
    code, err = await api("PATCH", "/me/beta-features", {name: "yes"})
    assert code == 422 and err["field"] == name

    code, alerts = await api("GET", "/me/alerts")
    assert code == 200 and alerts["slack_webhook_url"] == ""
    check(alerts, schemas.ALERT_SETTINGS)
    code, err = await api("PUT", "/me/alerts", {"events": {"run_crashed": {"slack": True}}})
    assert code == 422 and err["field"] == "slack_webhook_url"
    hook = "https://hooks.slack.com/services/T/B/x"
    code, alerts = await api(
        "PUT",
        "/me/alerts",
        {"events": {"run_crashed": {"slack": True}}, "slack_webhook_url": hook},
    )
    assert code == 200 and alerts["events"]["run_crashed"]["slack"] is True
    assert alerts["slack_webhook_url"] == hook
    code, err = await api("PUT", "/me/alerts", {"slack_webhook_url": "http://insecure.example"})
    assert code == 422 and err["field"] == "slack_webhook_url"

    code, storage = await api("GET", "/me/storage")
    assert code == 200 and storage["used_bytes"] == 0 and storage["quota_bytes"] > 0
    check(storage, schemas.STORAGE)

    code, headers, data = await fetch_raw(jp_fetch, api, "/me/export")
    assert code == 200 and "labdeck-account.zip" in headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        document = json.loads(zf.read("user.json"))
    assert document["profile"]["username"] == "alice"

    code, alert = await api("POST", "/alerts", {"title": "loss diverged", "level": "warn"})
    assert code == 201 and alert["level"] == "WARN" and alert["suppressed"] is False
    check(alert, schemas.ALERT)
    body = {"title": "loss diverged", "text": "again", "wait_duration": 600}
    code, alert = await api("POST", "/alerts", body)
    assert code == 201 and alert["suppressed"] is True
    code, err = await api("POST", "/alerts", {"text": "no title"})
    assert code == 422 and err["field"] == "title"
    code, err = await api("POST", "/alerts", {"title": "x", "level": "PANIC"})
    assert code == 422 and err["field"] == "level"
    code, err = await api("POST", "/alerts", {"title": "x", "wait_duration": -1})
    assert code == 422 and err["field"] == "wait_duration"
    code, err = await api("POST", "/alerts", {"title": "x", "run_id": "nope"})
    assert code == 404


TOKEN = "gho_rest_test_token"


class FakeGithub(BaseHTTPRequestHandler):
    """GitHub's token endpoint (code "good" only) and user endpoint."""

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        if form.get("code") == ["good"]:
            self._answer({"access_token": TOKEN, "token_type": "bearer"})
        else:
            self._answer({"error": "bad_verification_code"})

    def do_GET(self) -> None:  # noqa: N802
        self._answer({"login": "octocat"})


@pytest.fixture
def fake_github(labdeck_backend: Any) -> Iterator[None]:
    """Points the server's settings at a local GitHub stand-in."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGithub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings = labdeck_backend.settings
    settings.github_client_id = "client-123"
    settings.github_client_secret = "secret-456"
    settings.github_authorize_url = f"{base}/login/oauth/authorize"
    settings.github_token_url = f"{base}/login/oauth/access_token"
    settings.github_user_url = f"{base}/user"
    yield
    server.shutdown()
    server.server_close()


async def test_github_connect_callback_and_disconnect(
    api_as, make_user, api_jupyter, labdeck_backend, fake_github
):
    alice, bob = make_user("alice"), make_user("bob")
    api, bob_api = api_as(alice), api_as(bob)

    code, state = await api("GET", "/me/github")
    assert code == 200 and state == {"connected": False, "login": None}
    check(state, schemas.GITHUB)
    labdeck_backend.settings.github_client_id = ""
    code, err = await api("POST", "/me/github/connect")
    assert code == 409 and "not configured" in err["message"]
    labdeck_backend.settings.github_client_id = "client-123"

    code, started = await api("POST", "/me/github/connect")
    assert code == 200
    check(started, schemas.GITHUB_AUTHORIZE)
    query = {k: v[0] for k, v in parse_qs(urlsplit(started["authorize_url"]).query).items()}
    state = query["state"]
    assert query["client_id"] == "client-123"

    anonymous = {"Authorization": ""}
    code, err = await api_jupyter(
        "GET", "/github/callback", params={"code": "good", "state": state}, headers=anonymous
    )
    assert code == 401 and err["error"] == "unauthenticated"
    code, err = await bob_api("GET", "/github/callback", params={"code": "good", "state": state})
    assert code == 422 and err["field"] == "state"
    code, err = await api("GET", "/github/callback", params={"state": state})
    assert code == 422 and err["field"] == "code"
    code, err = await api("GET", "/github/callback", params={"code": "bad", "state": state})
    assert code == 422 and err["field"] == "code"

    code, done = await api("GET", "/github/callback", params={"code": "good", "state": state})
    assert code == 200 and done == {"connected": True, "login": "octocat"}
    assert TOKEN not in json.dumps(done)
    code, err = await api("GET", "/github/callback", params={"code": "good", "state": state})
    assert code == 422 and err["field"] == "state"
    code, _ = await api("DELETE", "/me/github")
    assert code == 204
    code, state_now = await api("GET", "/me/github")
    assert state_now == {"connected": False, "login": None}
