"""A real jupyter_server with the labdeck extension (pytest-jupyter), on the
same per-test database as the backend fixtures (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPResponse

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import apikeys


@pytest.fixture
def jp_server_config(database_url: str, settings: Any) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labdeck": True}},
        "LabdeckApp": {
            "database_url": database_url,
            "storage_url": settings.storage_url,
            "reaper_interval": 0.0,
            "public_url": "http://127.0.0.1:8888/",
        },
    }


class Api:
    """Calls the REST API as one identity (an API key, or the Jupyter token)."""

    def __init__(self, fetch: Callable[..., Awaitable[HTTPResponse]], key: str | None) -> None:
        self._fetch = fetch
        self.key = key

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        hdrs = dict(headers or {})
        if self.key is not None:
            hdrs["Authorization"] = f"Bearer {self.key}"
        kwargs: dict[str, Any] = {"method": method, "headers": hdrs, "params": params or {}}
        if raw is not None:
            kwargs["body"] = raw
        elif body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = b""
        if method == "DELETE" and "body" in kwargs:
            kwargs["allow_nonstandard_methods"] = True
        try:
            response = await self._fetch("labdeck", "api", *path.strip("/").split("/"), **kwargs)
        except HTTPClientError as err:
            assert err.response is not None
            response = err.response
        text = response.body or b""
        ctype = response.headers.get("Content-Type", "")
        data: Any = json.loads(text) if text and ctype.startswith("application/json") else text
        return response.code, data


@pytest.fixture
def labdeck_backend(jp_serverapp: Any) -> Backend:
    app = jp_serverapp.extension_manager.extension_apps["labdeck"]
    (labdeck_app,) = app
    backend: Backend = labdeck_app.backend
    return backend


@pytest.fixture
def api_as(
    jp_fetch: Callable[..., Awaitable[HTTPResponse]], backend: Backend, labdeck_backend: Backend
) -> Callable[[Actor], Api]:
    """`api_as(actor)`: a client holding a fresh API key of that actor."""

    def make(actor: Actor) -> Api:
        key = apikeys.create_key(backend, actor, "test")["secret"]
        return Api(jp_fetch, key)

    return make


@pytest.fixture
def api_with(
    jp_fetch: Callable[..., Awaitable[HTTPResponse]], labdeck_backend: Backend
) -> Callable[[str], Api]:
    """`api_with(secret)`: a client for an API key made elsewhere (a service account's)."""
    return lambda secret: Api(jp_fetch, secret)


@pytest.fixture
def api_jupyter(jp_fetch: Callable[..., Awaitable[HTTPResponse]], labdeck_backend: Backend) -> Api:
    """A client authenticated as the Jupyter server's own identity (its token)."""
    return Api(jp_fetch, None)
