"""Which account a Jupyter sign-in is (F-ID-1), in a real jupyter_server:
a single-user provider's random user names all mean the server's owner; a
provider the operator lists as multi-user names each person itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from sqlalchemy import func, select
from tornado import web

from labdeck.backend.context import Backend
from labdeck.backend.models import User as UserRow
from labdeck.backend.services import identity


class HeaderIdentityProvider(IdentityProvider):
    """A custom provider that lets several people in: `X-Test-User` names
    the person (a stand-in for an operator's SSO proxy header)."""

    def get_user(self, handler: web.RequestHandler) -> User | None:
        name = handler.request.headers.get("X-Test-User")
        if not name:
            return None
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return User(username=name)


DOTTED = f"{HeaderIdentityProvider.__module__}.{HeaderIdentityProvider.__qualname__}"


@pytest.fixture(params=["listed", "unlisted"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jp_server_config(mode: str, jp_server_config: dict[str, Any]) -> dict[str, Any]:
    config = {**jp_server_config, "ServerApp": dict(jp_server_config["ServerApp"])}
    config["ServerApp"]["identity_provider_class"] = HeaderIdentityProvider
    config["LabdeckApp"] = {
        **jp_server_config["LabdeckApp"],
        "multi_user_identity_providers": [DOTTED] if mode == "listed" else [],
    }
    return config


def users(backend: Backend) -> list[tuple[str, str | None]]:
    with backend.db.reader() as session:
        rows = session.execute(
            select(UserRow.username, UserRow.external_name).order_by(UserRow.id)
        ).all()
    return [(r.username, r.external_name) for r in rows]


async def test_a_custom_provider_names_people_only_when_listed(jp_fetch, mode, labdeck_backend):
    seen = {}
    for person in ("josé", "jos", "josé", "JOSÉ"):
        response = await jp_fetch("labdeck", "api", "me", headers={"X-Test-User": person})
        seen[person] = json.loads(response.body)["username"]
    if mode == "listed":
        assert seen == {"josé": "jose", "jos": "jos", "JOSÉ": "jose"}
        assert users(labdeck_backend) == [("jose", "josé"), ("jos", "jos")]
    else:
        owner = identity.server_owner()
        assert set(seen.values()) == {owner}
        assert users(labdeck_backend) == [(owner, owner)]


async def test_nobody_signed_in_is_401(jp_fetch, labdeck_backend):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("labdeck", "api", "me", headers={"Authorization": ""})
    assert err.value.code == 401
    with labdeck_backend.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(UserRow)) == 0
