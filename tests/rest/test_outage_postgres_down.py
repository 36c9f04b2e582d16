"""PostgreSQL goes away under a running server (its connections cut, new ones
refused: the server reaches the database through a TCP forwarder that the
test stops): requests answer 503 JSON with Retry-After, the outage is logged
once, and when the database is back the writes resume with the data intact."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from http_calls import answer, call
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from labdeck.backend.services import profile


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    url = make_url(database_url)
    forwarder = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    forwarder.start()
    yield forwarder
    forwarder.stop()


@pytest.fixture
def jp_server_config(database_url: str, settings: Any, proxy: TcpProxy) -> dict[str, Any]:
    through = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return {
        "ServerApp": {"jpserver_extensions": {"labdeck": True}},
        "LabdeckApp": {
            "database_url": through.render_as_string(hide_password=False),
            "storage_url": settings.storage_url,
            "reaper_interval": 0.0,
            "public_url": "http://127.0.0.1:8888/",
        },
    }


async def me(jp_fetch: Any, key: str, method: str, body: Any = None) -> tuple[int, Any, Any]:
    response = await call(jp_fetch, key, method, "/me", body)
    return response.code, response.headers, answer(response)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgres_going_away_answers_503_and_recovers(
    jp_fetch: Any,
    api_as: Any,
    make_user: Any,
    backend: Any,
    proxy: TcpProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ann = make_user("ann")
    key = api_as(ann).key
    assert (await me(jp_fetch, key, "PATCH", {"name": "Ann"}))[0] == 200
    proxy.stop()
    with caplog.at_level(logging.WARNING, logger="labdeck"):
        for method, body in (("PATCH", {"name": "Lost"}), ("GET", None), ("PATCH", {"name": "X"})):
            code, headers, said = await me(jp_fetch, key, method, body)
            assert code == 503, said
            assert said["error"] == "unavailable" and "not reachable" in said["message"]
            assert int(headers["Retry-After"]) > 0
        proxy.start()
        code, _, said = await me(jp_fetch, key, "PATCH", {"name": "Ann again"})
        assert code == 200, said
    said = [r.getMessage() for r in caplog.records if r.name == "labdeck"]
    assert len([m for m in said if "the database is down" in m]) == 1, said
    assert len([m for m in said if "works again" in m]) == 1, said
    assert profile.get_profile(backend, ann)["name"] == "Ann again"
