"""The labdeck service's Hub-token sign-in (`hubauth.HubTokenIdentityProvider`)
in a real jupyter_server, against a real HTTP peer on 127.0.0.1 that answers
`GET /hub/api/user` as JupyterHub does: the token's owner with its scopes,
or 403 for a token the Hub does not honour (expired or revoked).

tests/hub/test_jupyterhub_e2e.py does the same against a real JupyterHub.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from servers import free_port, tornado_in_thread
from sqlalchemy import select
from tornado import web
from tornado.httpclient import HTTPClientError

from labdeck.backend.models import User
from labdeck.backend.services import apikeys, identity
from labdeck.extension.hubauth import HubTokenIdentityProvider
from labdeck.extension.service import LabdeckOnlyAuthorizer

ACCESS = "access:services!service=labdeck"


def model(name: str, *, admin: bool = False, scopes: tuple[str, ...] = (ACCESS,)) -> dict:
    return {
        "kind": "user",
        "name": name,
        "admin": admin,
        "groups": [],
        "scopes": [*scopes, f"read:users:name!user={name}"],
    }


class FakeHub:
    """Who holds which token, as the Hub knows it."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict[str, Any]] = {
            "alice-token": model("alice"),
            "root-token": model("Root", admin=True),
            "jose-token": model("josé"),
            "jos-token": model("jos"),
            "narrow-token": model("carol", scopes=("read:users:name!user=carol",)),
            "service-token": {"kind": "service", "name": "grader", "scopes": [ACCESS]},
        }
        self.asked: list[str] = []


class UserHandler(web.RequestHandler):
    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").partition(" ")[2]
        self.hub.asked.append(token)
        found = self.hub.tokens.get(token)
        if found is None:  # JupyterHub: unknown, expired and revoked tokens alike
            self.set_status(403)
            self.finish({"status": 403, "message": "Forbidden"})
            return
        self.finish(json.dumps(found))


@pytest.fixture
def fake_hub() -> Iterator[tuple[FakeHub, int]]:
    hub = FakeHub()
    with tornado_in_thread(
        web.Application([(r"/hub/api/user", UserHandler, {"hub": hub})])
    ) as port:
        yield hub, port


@pytest.fixture
def hub_port(fake_hub: tuple[FakeHub, int]) -> int:
    return fake_hub[1]


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], hub_port: int) -> dict[str, Any]:
    return {
        **jp_server_config,
        "ServerApp": {
            **jp_server_config["ServerApp"],
            "identity_provider_class": HubTokenIdentityProvider,
            "authorizer_class": LabdeckOnlyAuthorizer,
        },
        "HubAuth": {
            "api_url": f"http://127.0.0.1:{hub_port}/hub/api",
            "api_token": "the-service-own-token",
            "access_scopes": [ACCESS],
            "cache_max_age": 1,
        },
    }


async def call(jp_fetch: Any, path: str, token: str | None, method: str = "GET", **kw: Any):
    headers = {"Authorization": token} if token is not None else {"Authorization": ""}
    if method in ("POST", "PATCH") and "body" not in kw:
        kw["body"] = b"{}"
    try:
        response = await jp_fetch(*path.strip("/").split("/"), method=method, headers=headers, **kw)
    except HTTPClientError as err:
        assert err.response is not None
        response = err.response
    body = response.body or b""
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    return response.code, (json.loads(body) if body and is_json else body), response.headers


async def test_a_valid_token_is_its_owner_and_writes_need_no_xsrf(jp_fetch, labdeck_backend):
    code, me, _ = await call(jp_fetch, "labdeck/api/me", "token alice-token")
    assert code == 200 and me["username"] == "alice" and me["account_type"] == "user"
    # Bearer works too, and a write by token needs no XSRF cookie.
    code, me, _ = await call(
        jp_fetch, "labdeck/api/me", "Bearer alice-token", "PATCH", body=b'{"institution":"X"}'
    )
    assert code == 200 and me["institution"] == "X"
    # As JupyterHub's own default: a token in the URL (logged, shared by
    # copy-paste) is not taken (HubAuth.allow_token_in_url).
    code, _, _ = await call(jp_fetch, "labdeck/api/me", None, params={"token": "alice-token"})
    assert code == 401


async def test_hub_admins_are_labdeck_admins_and_names_stay_distinct(jp_fetch, labdeck_backend):
    code, me, _ = await call(jp_fetch, "labdeck/api/me", "token alice-token")
    assert me["account_type"] == "user"  # first, but the Hub decides who is admin
    code, me, _ = await call(jp_fetch, "labdeck/api/me", "token root-token")
    assert code == 200 and me["account_type"] == "admin" and me["username"] == "root"
    code, jose, _ = await call(jp_fetch, "labdeck/api/me", "token jose-token")
    code, jos, _ = await call(jp_fetch, "labdeck/api/me", "token jos-token")
    assert (jose["username"], jos["username"]) == ("jose", "jos")
    with labdeck_backend.db.reader() as session:
        names = set(session.scalars(select(User.external_name)))
    assert names == {"alice", "Root", "josé", "jos"}


@pytest.mark.parametrize("token", ["token expired-token", "token revoked-token", "token ", ""])
async def test_tokens_the_hub_does_not_honour_are_401(jp_fetch, labdeck_backend, token):
    code, body, _ = await call(jp_fetch, "labdeck/api/me", token or None)
    assert code == 401 and body["error"] == "unauthenticated"
    with labdeck_backend.db.reader() as session:
        assert session.scalars(select(User)).all() == []


async def test_a_revoked_token_stops_working_once_the_cache_expires(
    jp_fetch, labdeck_backend, fake_hub
):
    hub, _ = fake_hub
    assert (await call(jp_fetch, "labdeck/api/me", "token alice-token"))[0] == 200
    del hub.tokens["alice-token"]  # revoked on the Hub
    await asyncio.sleep(1.2)  # HubAuth.cache_max_age = 1 here; 300 s by default
    code, body, _ = await call(jp_fetch, "labdeck/api/me", "token alice-token")
    assert code == 401


async def test_wrong_scope_and_service_tokens_are_403(jp_fetch, labdeck_backend):
    code, body, _ = await call(jp_fetch, "labdeck/api/me", "token narrow-token")
    assert code == 403 and body["error"] == "forbidden" and ACCESS in body["message"]
    code, body, _ = await call(jp_fetch, "labdeck/api/me", "token service-token")
    assert code == 403 and "Hub services" in body["message"]
    with labdeck_backend.db.reader() as session:
        assert session.scalars(select(User)).all() == []


async def test_an_api_key_is_never_sent_to_the_hub(jp_fetch, labdeck_backend, backend, fake_hub):
    hub, _ = fake_hub
    alice = identity.ensure_user(backend, "alice", hub_admin=False)
    secret = apikeys.create_key(backend, alice, "ci")["secret"]
    code, me, _ = await call(jp_fetch, "labdeck/api/me", f"Bearer {secret}")
    assert code == 200 and me["username"] == "alice"
    code, _, _ = await call(jp_fetch, "labdeck/api/me", "Bearer ldk_forged")
    assert code == 401
    assert not any(t.startswith("ldk_") for t in hub.asked)


async def test_nothing_but_labdeck_is_served_even_to_a_valid_token(jp_fetch, labdeck_backend):
    for method, path in [
        ("GET", "api/contents"),
        ("GET", "api/kernels"),
        ("POST", "api/kernels"),
        ("GET", "api/sessions"),
        ("GET", "api/kernelspecs"),
        ("GET", "api/terminals"),
        ("GET", "files/README.md"),
    ]:
        code, _, _ = await call(jp_fetch, path, "token alice-token", method)
        assert code in (403, 404), (method, path, code)


class TestHubDown:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        closed = free_port()  # nothing listens there
        hub_auth = {**jp_server_config["HubAuth"], "api_url": f"http://127.0.0.1:{closed}/hub/api"}
        return {**jp_server_config, "HubAuth": hub_auth}

    async def test_an_unreachable_hub_is_503_with_retry_after(self, jp_fetch, labdeck_backend):
        code, body, headers = await call(jp_fetch, "labdeck/api/me", "token alice-token")
        assert code == 503 and body["error"] == "unavailable"
        assert int(headers["Retry-After"]) > 0
