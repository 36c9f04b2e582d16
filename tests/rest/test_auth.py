"""Authentication: API keys, the Jupyter identity, and refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from labdeck.backend.models import User
from labdeck.backend.services import apikeys, identity


async def test_api_key_lifecycle_over_http(api_as, make_user):
    alice = make_user("alice", admin=True)
    api = api_as(alice)
    code, created = await api("POST", "/me/api-keys", {"name": "laptop"})
    assert code == 201 and created["secret"].startswith("ldk_")
    code, keys = await api("GET", "/me/api-keys")
    assert code == 200
    assert created["prefix"] in [k["prefix"] for k in keys]
    assert all("secret" not in k for k in keys)
    code, _ = await api("DELETE", f"/me/api-keys/{created['id']}")
    assert code == 204


@pytest.mark.parametrize("header", ["Bearer ldk_nope", "Bearer ldk_", "bearer ldk_x y"])
async def test_bad_key_is_401_never_a_fallback(jp_fetch, labdeck_backend, header):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("labdeck", "api", "me", "api-keys", headers={"Authorization": header})
    assert err.value.code == 401


async def test_revoked_key_is_401(api_as, make_user, backend):
    alice = make_user("alice")
    api = api_as(alice)
    key_id = apikeys.list_keys(backend, alice)[0]["id"]
    apikeys.revoke_key(backend, alice, key_id)
    code, body = await api("GET", "/me/api-keys")
    assert code == 401 and body["error"] == "unauthenticated"


async def test_the_jupyter_identity_is_the_server_owner_created_once(api_jupyter, labdeck_backend):
    """jupyter_server's default provider names a new anonymous user for every
    token request; all of them are the server's owner (F-ID-1)."""
    names = set()
    for _ in range(3):
        code, me = await api_jupyter("GET", "/me")
        assert code == 200
        names.add(me["username"])
    assert names == {identity.server_owner()}
    with labdeck_backend.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
    code, keys = await api_jupyter("GET", "/me/api-keys")
    assert code == 200 and keys == []


async def test_openapi_is_public(jp_fetch, labdeck_backend):
    response = await jp_fetch("labdeck", "api", "openapi.json", headers={"Authorization": ""})
    assert response.code == 200
