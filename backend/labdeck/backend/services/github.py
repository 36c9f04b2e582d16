"""Personal GitHub integration (F-US-5) through the OAuth 2 authorization-code
flow: connect, show the login, disconnect. The token is stored for labdeck's
own use and never leaves the backend.

`complete_connect` talks to GitHub over the network, which must not happen
while a write transaction holds SQLite's lock (every kernel writing metrics
would wait behind GitHub). So it checks the `state` in a read, exchanges the
code with no transaction open, then consumes the state and stores the token
in one write that checks the state again (single use, even under a race).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user
from ..config import Settings
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, LabdeckError
from ..models import GithubOAuthState, User, utcnow
from ..tokens import digest, new_secret

STATE_TTL = dt.timedelta(minutes=10)
HTTP_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 1_000_000
SCOPE = "read:user"
USER_AGENT = "labdeck"


class GithubUnavailable(LabdeckError):
    """GitHub could not be reached or gave an answer that makes no sense:
    not the caller's fault, so neither 4xx nor a bare 500."""

    kind = "bad_gateway"
    status = 502


def github_view(user: User) -> dict[str, Any]:
    return {"connected": user.github_token is not None, "login": user.github_login}


def redirect_uri(backend: Backend) -> str:
    return backend.link("labdeck/api/github/callback")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _fetch_json(request: urllib.request.Request) -> dict[str, Any]:
    if urlsplit(request.full_url).scheme not in ("http", "https"):
        raise GithubUnavailable(f"the GitHub endpoint {request.full_url!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise GithubUnavailable(f"GitHub answered HTTP {exc.code} ({exc.reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise GithubUnavailable(f"could not reach GitHub: {exc}") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise GithubUnavailable("GitHub's answer was too large")
    try:
        answer = json.loads(raw)
    except ValueError:
        raise GithubUnavailable("GitHub's answer was not JSON") from None
    if not isinstance(answer, dict):
        raise GithubUnavailable("GitHub's answer was not a JSON object")
    return answer


def _exchange_code(backend: Backend, code: str) -> str:
    settings = backend.settings
    form = {
        "client_id": settings.github_client_id,
        "client_secret": settings.github_client_secret,
        "code": code,
        "redirect_uri": redirect_uri(backend),
    }
    answer = _fetch_json(
        urllib.request.Request(
            settings.github_token_url,
            data=urlencode(form).encode(),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            method="POST",
        )
    )
    if "error" in answer:
        # GitHub says why with HTTP 200 and an error object (expired or reused code).
        reason = str(answer.get("error_description") or answer["error"])[:200]
        raise Invalid(f"GitHub refused the code: {reason}", field="code")
    token = answer.get("access_token")
    if not isinstance(token, str) or not 0 < len(token) <= 512:
        raise GithubUnavailable("GitHub's answer held no usable access token")
    return token


def _fetch_login(settings: Settings, token: str) -> str:
    answer = _fetch_json(
        urllib.request.Request(
            settings.github_user_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "User-Agent": USER_AGENT,
            },
        )
    )
    login = answer.get("login")
    if not isinstance(login, str) or not 0 < len(login) <= 128:
        raise GithubUnavailable("GitHub's user answer held no login")
    return login


def _check_state(row: GithubOAuthState | None, user: User) -> GithubOAuthState:
    """Unknown, used, someone else's and expired states read alike: whoever
    holds a stolen or stale link learns nothing from the answer."""
    if row is None or row.user_id != user.id or row.expires_at <= utcnow():
        raise Invalid(
            "this GitHub sign-in link is not valid or has expired; connect again", field="state"
        )
    return row


def _forget_states(session: Session, user: User, *, expired_before: dt.datetime | None) -> None:
    query = delete(GithubOAuthState).where(GithubOAuthState.user_id == user.id)
    if expired_before is not None:
        query = query.where(GithubOAuthState.expires_at <= expired_before)
    session.execute(query)


def get_github(backend: Backend, actor: Actor) -> dict[str, Any]:
    with backend.db.reader() as session:
        return github_view(actor_user(session, actor))


def start_connect(backend: Backend, actor: Actor) -> dict[str, str]:
    settings = backend.settings
    if not settings.github_client_id:
        raise Conflict("the GitHub integration is not configured on this server (no client id)")
    state = new_secret()
    url = _with_query(
        settings.github_authorize_url,
        {
            "client_id": settings.github_client_id,
            "redirect_uri": redirect_uri(backend),
            "state": state,
            "scope": SCOPE,
        },
    )
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        now = utcnow()
        _forget_states(session, user, expired_before=now)
        session.add(
            GithubOAuthState(state_hash=digest(state), user_id=user.id, expires_at=now + STATE_TTL)
        )
    return {"authorize_url": url}


def complete_connect(backend: Backend, actor: Actor, code: str, state: str) -> dict[str, Any]:
    clean_code = validate.text(code, "code", min_len=1, max_len=512)
    clean_state = validate.text(state, "state", min_len=1, max_len=128)
    state_hash = digest(clean_state)
    with backend.db.reader() as session:
        _check_state(session.get(GithubOAuthState, state_hash), actor_user(session, actor))
    token = _exchange_code(backend, clean_code)
    login = _fetch_login(backend.settings, token)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        row = session.get(GithubOAuthState, state_hash, with_for_update=True)
        session.delete(_check_state(row, user))
        user.github_login = login
        user.github_token = token
        return github_view(user)


def disconnect(backend: Backend, actor: Actor) -> dict[str, Any]:
    """Forgets the login and token here. The grant itself lives on GitHub
    until the user revokes it there (Settings → Applications)."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        user.github_login = None
        user.github_token = None
        _forget_states(session, user, expired_before=None)
        return github_view(user)
