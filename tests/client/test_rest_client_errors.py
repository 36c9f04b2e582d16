"""The REST client (`labdeck.client.rest`) against a real HTTP server on
127.0.0.1: every answer that is not 2xx becomes the typed error the service
raised, with its message, field and Retry-After, and the request carries the
kernel's own credential to `<service_url>/labdeck/api/...`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from peers import Answer, Peer

from labdeck.backend.config import Settings
from labdeck.backend.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LabdeckError,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from labdeck.client import mode
from labdeck.client.rest import RestClient

ANSWERS: dict[str, Answer] = {
    "/services/labdeck/labdeck/api/runs/r401": (
        401,
        {},
        {"error": "unauthenticated", "message": "unknown or revoked token"},
    ),
    "/services/labdeck/labdeck/api/runs/r403": (403, {}, {"error": "forbidden", "message": "no"}),
    "/services/labdeck/labdeck/api/runs/r404": (
        404,
        {},
        {"error": "not_found", "message": "no run with that id"},
    ),
    "/services/labdeck/labdeck/api/runs/r409": (409, {}, {"error": "conflict", "message": "ended"}),
    "/services/labdeck/labdeck/api/runs/r422": (
        422,
        {},
        {"error": "invalid", "message": "name is too long", "field": "name"},
    ),
    "/services/labdeck/labdeck/api/runs/r429": (
        429,
        {"Retry-After": "7"},
        {"error": "rate_limited", "message": "slow down"},
    ),
    "/services/labdeck/labdeck/api/runs/r503": (
        503,
        {"Retry-After": "3"},
        {"error": "unavailable", "message": "the database is busy"},
    ),
    # What the Hub's proxy answers for a service it cannot reach: not JSON.
    "/services/labdeck/labdeck/api/runs/r502": (502, {}, None),
    "/services/labdeck/labdeck/api/runs/r500": (500, {}, {"error": "error", "message": "bug"}),
    "/services/labdeck/labdeck/api/runs/ok": (200, {}, {"id": "ok", "state": "running"}),
}


def answer(method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
    return ANSWERS.get(path, (404, {}, {"error": "not_found", "message": path}))


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer(answer).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("run_id", "kind", "message"),
    [
        ("r401", Unauthenticated, "unknown or revoked token"),
        ("r403", Forbidden, "no"),
        ("r404", NotFound, "no run with that id"),
        ("r409", Conflict, "ended"),
        ("r422", Invalid, "name is too long"),
        ("r500", LabdeckError, "bug"),
    ],
)
def test_each_status_is_the_services_typed_error(
    peer: Peer, run_id: str, kind: type[LabdeckError], message: str
) -> None:
    client = RestClient(peer.url, "token hub-token")
    with pytest.raises(kind) as raised:
        client.get_run(run_id)
    assert type(raised.value) is kind and raised.value.message == message
    if run_id == "r422":
        assert raised.value.field == "name"


def test_429_and_503_keep_their_retry_after(peer: Peer) -> None:
    client = RestClient(peer.url, "token hub-token")
    with pytest.raises(RateLimited) as limited:
        client.get_run("r429")
    assert limited.value.retry_after == 7 and limited.value.message == "slow down"
    with pytest.raises(Unavailable) as busy:
        client.get_run("r503")
    assert busy.value.retry_after == 3 and busy.value.message == "the database is busy"


def test_a_proxy_502_and_a_closed_port_are_unavailable_not_fatal(peer: Peer) -> None:
    client = RestClient(peer.url, "token hub-token")
    with pytest.raises(Unavailable) as proxied:
        client.get_run("r502")
    assert proxied.value.retry_after > 0
    peer.stop()
    with pytest.raises(Unavailable) as gone:
        client.get_run("ok")
    assert "cannot be reached" in gone.value.message


def test_the_request_carries_the_kernels_credential_to_the_services_api(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mode.forget()
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-of-alices-server")
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")  # declared: sent nowhere
    hub = mode.client(Settings(service_url=peer.url, database_url="sqlite:////nonexistent/x.db"))
    assert hub.mode == "service" and hub is mode.client(
        Settings(service_url=peer.url, database_url="sqlite:////nonexistent/x.db")
    )
    assert hub.get_run("ok")["state"] == "running"
    method, path, headers, _ = peer.requests[-1]
    assert (method, path) == ("GET", "/services/labdeck/labdeck/api/runs/ok")
    assert headers["Authorization"] == "token hub-token-of-alices-server"
    assert "bob" not in str(headers)
    # An API key, set on purpose, wins over the Hub token.
    keyed = mode.client(Settings(service_url=peer.url, api_key="ldk_" + "a" * 40))
    keyed.get_run("ok")
    assert peer.requests[-1][2]["Authorization"] == "Bearer ldk_" + "a" * 40
    mode.forget()


def test_client_mode_without_a_credential_says_what_is_missing(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mode.forget()
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(Unauthenticated, match="JUPYTERHUB_API_TOKEN"):
        mode.client(Settings(service_url=peer.url))
    assert peer.requests == []
