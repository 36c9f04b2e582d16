"""Personal GitHub integration (F-US-5) against a real local HTTP server that
plays GitHub's token and user endpoints."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from labdeck.backend.config import Settings
from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict, Invalid
from labdeck.backend.models import GithubOAuthState, User
from labdeck.backend.services import github
from labdeck.backend.tokens import digest

TOKEN = "gho_test_token_0123456789"


class FakeGithub(BaseHTTPRequestHandler):
    """`code` decides the token endpoint's answer; the user endpoint checks
    the bearer token. Every request is recorded on the server."""

    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self.server.requests.append(("POST", self.path, dict(self.headers), form))
        code = form.get("code")
        if self.path != "/login/oauth/access_token":
            self._answer(404, b"{}")
        elif code == "good":
            self._answer(200, json.dumps({"access_token": TOKEN, "token_type": "bearer"}).encode())
        elif code == "other-token":
            self._answer(200, json.dumps({"access_token": "gho_unknown"}).encode())
        elif code == "expired":
            body = {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            }
            self._answer(200, json.dumps(body).encode())
        elif code == "boom":
            self._answer(500, b"internal error", "text/plain")
        elif code == "html":
            self._answer(200, b"<html>maintenance</html>", "text/html")
        elif code == "no-token":
            self._answer(200, b'{"token_type": "bearer"}')
        elif code == "slow":
            time.sleep(2)
            self._answer(200, json.dumps({"access_token": TOKEN}).encode())
        else:
            self._answer(400, b"{}")

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(("GET", self.path, dict(self.headers), {}))
        if self.path != "/user":
            self._answer(404, b"{}")
        elif self.headers.get("Authorization") == f"Bearer {TOKEN}":
            self._answer(200, json.dumps({"login": "octocat", "id": 1}).encode())
        else:
            self._answer(401, b'{"message": "Bad credentials"}')


@pytest.fixture
def fake_github(settings: Settings) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGithub)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.github_client_id = "client-123"
    settings.github_client_secret = "client-secret-456"
    settings.github_authorize_url = f"{base}/login/oauth/authorize"
    settings.github_token_url = f"{base}/login/oauth/access_token"
    settings.github_user_url = f"{base}/user"
    yield server
    server.shutdown()
    server.server_close()


def start(backend: Backend, actor: Actor) -> tuple[str, dict[str, str]]:
    url = github.start_connect(backend, actor)["authorize_url"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return url, params


def account(backend: Backend, actor: Actor) -> tuple[str | None, str | None]:
    with backend.db.reader() as session:
        user = session.get(User, actor.user_id)
        assert user is not None
        return user.github_login, user.github_token


def states(backend: Backend) -> list[tuple[str, int]]:
    with backend.db.reader() as session:
        rows = session.scalars(select(GithubOAuthState).order_by(GithubOAuthState.state_hash))
        return [(r.state_hash, r.user_id) for r in rows]


def test_the_whole_flow_connects_and_never_returns_the_token(backend, make_user, fake_github):
    alice = make_user("alice")
    assert github.get_github(backend, alice) == {"connected": False, "login": None}
    url, params = start(backend, alice)
    assert url.startswith(f"{backend.settings.github_authorize_url}?")
    assert params == {
        "client_id": "client-123",
        "redirect_uri": "http://127.0.0.1:8888/labdeck/api/github/callback",
        "state": params["state"],
        "scope": "read:user",
    }
    assert len(params["state"]) >= 32
    # Only the state's hash is kept, for ten minutes.
    [(state_hash, owner)] = states(backend)
    assert state_hash == digest(params["state"]) and owner == alice.user_id
    with backend.db.reader() as session:
        row = session.get(GithubOAuthState, state_hash)
        assert row is not None
        left = row.expires_at - dt.datetime.now(dt.timezone.utc)
        assert dt.timedelta(minutes=9) < left <= dt.timedelta(minutes=10)

    connected = github.complete_connect(backend, alice, "good", params["state"])
    assert connected == {"connected": True, "login": "octocat"}
    assert github.get_github(backend, alice) == connected
    assert TOKEN not in json.dumps(connected)
    assert account(backend, alice) == ("octocat", TOKEN)
    assert states(backend) == []

    [(m1, path1, headers1, form), (m2, path2, headers2, _)] = fake_github.requests
    assert (m1, path1, m2, path2) == ("POST", "/login/oauth/access_token", "GET", "/user")
    assert headers1["Accept"] == "application/json"
    assert form == {
        "client_id": "client-123",
        "client_secret": "client-secret-456",
        "code": "good",
        "redirect_uri": "http://127.0.0.1:8888/labdeck/api/github/callback",
    }
    assert headers2["Authorization"] == f"Bearer {TOKEN}"
    assert headers2["User-Agent"]


def test_a_state_works_once(backend, make_user, fake_github):
    alice = make_user("alice")
    _, params = start(backend, alice)
    github.complete_connect(backend, alice, "good", params["state"])
    github.disconnect(backend, alice)
    before = len(fake_github.requests)
    with pytest.raises(Invalid) as err:
        github.complete_connect(backend, alice, "good", params["state"])
    assert err.value.field == "state"
    assert len(fake_github.requests) == before
    assert account(backend, alice) == (None, None)


def test_someone_elses_state_is_refused_and_stays_theirs(backend, make_user, fake_github):
    alice = make_user("alice")
    mallory = make_user("mallory")
    _, params = start(backend, alice)
    with pytest.raises(Invalid):
        github.complete_connect(backend, mallory, "good", params["state"])
    assert fake_github.requests == []
    assert account(backend, mallory) == (None, None)
    assert github.complete_connect(backend, alice, "good", params["state"])["connected"]


@pytest.mark.parametrize("state", ["forged", "x" * 128, "' OR 1=1 --"])
def test_unknown_states_are_refused_before_github_is_asked(backend, make_user, fake_github, state):
    alice = make_user("alice")
    start(backend, alice)
    before = states(backend)
    with pytest.raises(Invalid) as err:
        github.complete_connect(backend, alice, "good", state)
    assert err.value.field == "state"
    assert fake_github.requests == []
    assert states(backend) == before and account(backend, alice) == (None, None)


def test_an_expired_state_is_refused(backend, make_user, fake_github):
    alice = make_user("alice")
    _, params = start(backend, alice)
    with backend.db.transaction() as session:
        row = session.get(GithubOAuthState, digest(params["state"]))
        assert row is not None
        row.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with pytest.raises(Invalid):
        github.complete_connect(backend, alice, "good", params["state"])
    assert fake_github.requests == []
    # A new start clears the dead state away.
    start(backend, alice)
    assert len(states(backend)) == 1


@pytest.mark.parametrize(
    ("code", "state", "field"),
    [
        ("", "s", "code"),
        ("c", "", "state"),
        (None, "s", "code"),
        ("c", 5, "state"),
        ("c" * 513, "s", "code"),
    ],
)
def test_malformed_callback_parameters_are_invalid(
    backend, make_user, fake_github, code, state, field
):
    alice = make_user("alice")
    with pytest.raises(Invalid) as err:
        github.complete_connect(backend, alice, code, state)
    assert err.value.field == field
    assert fake_github.requests == []


def test_github_refusing_the_code_is_invalid_and_keeps_the_state(backend, make_user, fake_github):
    alice = make_user("alice")
    _, params = start(backend, alice)
    with pytest.raises(Invalid) as err:
        github.complete_connect(backend, alice, "expired", params["state"])
    assert err.value.field == "code" and "incorrect or expired" in err.value.message
    assert account(backend, alice) == (None, None)
    # The user can retry with a fresh code within the state's lifetime.
    assert github.complete_connect(backend, alice, "good", params["state"])["login"] == "octocat"


@pytest.mark.parametrize("code", ["boom", "html", "no-token", "other-token"])
def test_github_failures_are_reported_and_store_nothing(backend, make_user, fake_github, code):
    alice = make_user("alice")
    _, params = start(backend, alice)
    with pytest.raises(github.GithubUnavailable) as err:
        github.complete_connect(backend, alice, code, params["state"])
    assert err.value.status == 502 and err.value.message
    assert account(backend, alice) == (None, None)
    assert len(states(backend)) == 1


def test_a_slow_github_times_out(backend, make_user, fake_github, monkeypatch):
    monkeypatch.setattr(github, "HTTP_TIMEOUT_S", 0.3)
    alice = make_user("alice")
    _, params = start(backend, alice)
    with pytest.raises(github.GithubUnavailable):
        github.complete_connect(backend, alice, "slow", params["state"])
    assert account(backend, alice) == (None, None)


def test_an_unreachable_github_is_reported(backend, make_user, fake_github):
    alice = make_user("alice")
    _, params = start(backend, alice)
    fake_github.shutdown()
    fake_github.server_close()
    with pytest.raises(github.GithubUnavailable) as err:
        github.complete_connect(backend, alice, "good", params["state"])
    assert "could not reach GitHub" in err.value.message


def test_only_http_endpoints_are_fetched(backend, make_user, fake_github, settings, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"access_token": "stolen"}')
    settings.github_token_url = secret.as_uri()
    alice = make_user("alice")
    _, params = start(backend, alice)
    with pytest.raises(github.GithubUnavailable):
        github.complete_connect(backend, alice, "good", params["state"])


def test_an_authorize_url_with_its_own_query_keeps_it(backend, make_user, fake_github, settings):
    settings.github_authorize_url += "?allow_signup=false"
    url, params = start(backend, make_user("alice"))
    assert params["allow_signup"] == "false" and params["scope"] == "read:user"
    assert url.count("?") == 1


def test_connect_needs_a_configured_client(backend, make_user, settings):
    alice = make_user("alice")
    settings.github_client_id = ""
    with pytest.raises(Conflict):
        github.start_connect(backend, alice)
    assert states(backend) == []


def test_disconnect_forgets_login_token_and_pending_states(backend, make_user, fake_github):
    alice = make_user("alice")
    bob = make_user("bob")
    _, params = start(backend, alice)
    github.complete_connect(backend, alice, "good", params["state"])
    start(backend, alice)
    start(backend, bob)
    assert github.disconnect(backend, alice) == {"connected": False, "login": None}
    assert account(backend, alice) == (None, None)
    assert [owner for _, owner in states(backend)] == [bob.user_id]
    assert github.disconnect(backend, alice) == {"connected": False, "login": None}
