"""The route table against its OpenAPI document and the authorization rule.

Like MLflow's auth tests: one test proves that every route is authenticated
and reaches its service only through an identity, with an explicit exemption
list; another fails when an exemption is no longer needed. The OpenAPI
document must name exactly the routes that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from labdeck.extension import openapi
from labdeck.extension.endpoint import AUTH_PUBLIC, AUTH_USER
from labdeck.extension.handlers import API_PREFIX, EXEMPT
from labdeck.extension.routes import ROUTES

DATA = Path(__file__).parent.parent / "data"


def test_every_route_is_user_authorized_or_explicitly_exempt() -> None:
    for endpoint in ROUTES:
        key = (endpoint.method, endpoint.path)
        assert endpoint.auth in (AUTH_USER, AUTH_PUBLIC), key
        if endpoint.auth == AUTH_PUBLIC:
            assert key in EXEMPT, f"{key} is public but not in the exemption list"


def test_every_exemption_is_still_needed() -> None:
    public = {(e.method, e.path) for e in ROUTES if e.auth == AUTH_PUBLIC}
    assert public == EXEMPT, "an exemption names a route that is gone or no longer public"


def test_routes_are_unique() -> None:
    keys = [(e.method, e.path) for e in ROUTES]
    assert len(keys) == len(set(keys))


def test_openapi_names_exactly_the_routes() -> None:
    doc = openapi.document(ROUTES)
    documented = {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, ops in doc["paths"].items()
        for method in ops
    }
    assert documented == {(e.method, e.path) for e in ROUTES}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"\{(\w+)\}", path))


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", "1", path)


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, sqlite_template):
    """One engine is enough to prove authentication on every route."""
    import shutil

    path = tmp_path / "labdeck.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


async def test_every_non_exempt_route_refuses_anonymous_callers(jp_fetch, labdeck_backend):
    """No identity at all (the Jupyter token stripped): 401 before any service."""
    for endpoint in ROUTES:
        if endpoint.auth == AUTH_PUBLIC:
            continue
        parts = _concrete(endpoint.path).strip("/").split("/")
        kwargs = {"method": endpoint.method, "headers": {"Authorization": ""}}
        if endpoint.method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = b"{}"
        elif endpoint.method == "DELETE":
            kwargs["allow_nonstandard_methods"] = True
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("labdeck", "api", *parts, **kwargs)
        assert err.value.code == 401, (endpoint.method, endpoint.path, err.value.code)
