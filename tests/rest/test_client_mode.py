"""Client mode (F-ID-4): a user's server with `service_url` forwards
`/labdeck/api/*` to the labdeck service and opens no database.

The "service" here is a real HTTP peer on 127.0.0.1 that records what it
receives and answers as the service can (a 503 with Retry-After, a streamed
export, a redirect), so each claim is checked at the wire: what credential
travels, that bodies stream both ways intact, that statuses and headers come
back as they were sent. tests/hub/test_jupyterhub_e2e.py runs the same
forwarding against the real service behind a real JupyterHub.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, tornado_in_thread
from tornado import web
from tornado.httpclient import HTTPClientError

from labdeck.backend.config import SPECS

HUB_TOKEN = "alice-server-hub-token"
BIG = 5 * 1024 * 1024
CHUNK = 64 * 1024


class Received:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


@web.stream_request_body
class ServiceHandler(web.RequestHandler):
    """Answers by path; records method, path, headers and body chunks."""

    def initialize(self, received: Received) -> None:
        self.received = received

    def prepare(self) -> None:
        self.chunks: list[bytes] = []

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    async def _answer(self, path: str) -> None:
        body = b"".join(self.chunks)
        self.received.requests.append(
            {
                "method": self.request.method,
                "path": path,
                "raw_path": self.request.path,
                "query": self.request.query,
                "headers": dict(self.request.headers),
                "size": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
                "chunks": len(self.chunks),
            }
        )
        if path == "me":
            self.finish({"username": "alice"})
        elif path == "busy":
            self.set_status(503)
            self.set_header("Retry-After", "7")
            self.finish({"error": "unavailable", "message": "the database is busy"})
        elif path == "missing":
            self.set_status(404)
            self.finish({"error": "not_found", "message": "no run with that id"})
        elif path == "export":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", "attachment; filename*=UTF-8''run.csv")
            for i in range(BIG // CHUNK):
                self.write(bytes([i % 251]) * CHUNK)
                await self.flush()
            self.finish()
        elif path == "upload":
            self.set_status(201)
            self.finish({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})
        elif path == "redirect":
            self.redirect("https://github.com/login/oauth/authorize?state=x")
        else:
            self.set_status(418)
            self.finish({"path": path})

    async def get(self, path: str) -> None:
        await self._answer(path)

    async def post(self, path: str) -> None:
        await self._answer(path)

    async def delete(self, path: str) -> None:
        await self._answer(path)


@pytest.fixture
def service() -> Iterator[tuple[Received, str]]:
    received = Received()
    app = web.Application(
        [(r"/services/labdeck/labdeck/api/(.*)", ServiceHandler, {"received": received})]
    )
    with tornado_in_thread(app) as port:
        yield received, f"http://127.0.0.1:{port}/services/labdeck/"


@pytest.fixture
def never_db(tmp_path: Path) -> Path:
    return tmp_path / "must-not-exist.db"


@pytest.fixture
def jp_server_config(
    service: tuple[Received, str], never_db: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    # A private environment, dropped after the test: what the server exports
    # to its kernels (into os.environ) must not leak into other tests.
    environ = {k: v for k, v in os.environ.items() if k != SPECS["service_url"].env}
    environ["JUPYTERHUB_API_TOKEN"] = HUB_TOKEN
    environ[SPECS["database_url"].env] = f"sqlite:///{never_db}"
    monkeypatch.setattr(os, "environ", environ)
    return {
        "ServerApp": {"jpserver_extensions": {"labdeck": True}},
        "LabdeckApp": {"service_url": service[1], "reaper_interval": 0.0},
    }


@pytest.fixture
def labdeck_app(jp_serverapp: Any) -> Any:
    (app,) = jp_serverapp.extension_manager.extension_apps["labdeck"]
    return app


async def fetch(jp_fetch: Any, path: str, **kw: Any) -> Any:
    try:
        return await jp_fetch("labdeck", "api", path, **kw)
    except HTTPClientError as err:
        assert err.response is not None
        return err.response


async def test_no_database_and_the_kernels_get_only_the_service(
    labdeck_app, never_db, service, jp_fetch
):
    assert labdeck_app.backend is None and labdeck_app.reaper is None
    assert not never_db.exists()
    assert os.environ[SPECS["service_url"].env] == service[1]
    assert SPECS["database_url"].env not in os.environ
    response = await fetch(jp_fetch, "me")
    assert response.code == 200 and json.loads(response.body) == {"username": "alice"}
    assert not never_db.exists()


async def test_the_server_token_travels_never_the_callers_credentials(
    labdeck_app, service, jp_fetch
):
    received, _ = service
    response = await fetch(jp_fetch, "me", headers={"Cookie": "session=abc"}, params={"x": "1"})
    assert response.code == 200
    (request,) = received.requests
    assert request["headers"]["Authorization"] == f"token {HUB_TOKEN}"
    assert "Cookie" not in request["headers"]
    assert request["query"] == "x=1"


async def test_paths_travel_as_encoded(labdeck_app, service, jp_fetch):
    received, _ = service
    # jp_fetch sends "a%20b%3Fc%23d.txt": decoded, the `?` and `#` would cut it.
    response = await jp_fetch(
        "labdeck", "api", "artifacts", "7", "files", "a b?c#d.txt", raise_error=False
    )
    assert response.code == 418
    assert received.requests[-1]["raw_path"].endswith("/artifacts/7/files/a%20b%3Fc%23d.txt")
    assert received.requests[-1]["query"] == ""


async def test_an_api_key_goes_as_itself(labdeck_app, service, jp_fetch):
    received, _ = service
    response = await fetch(jp_fetch, "me", headers={"Authorization": "Bearer ldk_somekey"})
    assert response.code == 200
    assert received.requests[-1]["headers"]["Authorization"] == "Bearer ldk_somekey"


async def test_nobody_signed_in_is_refused_here(labdeck_app, service, jp_fetch):
    received, _ = service
    response = await fetch(jp_fetch, "me", headers={"Authorization": ""})
    assert response.code == 401 and json.loads(response.body)["error"] == "unauthenticated"
    assert received.requests == []


async def test_a_refusal_before_the_body_says_the_connection_closes(
    labdeck_app, service, http_server_client, jp_http_port, jp_base_url, jp_auth_header
):
    """tornado reads a streamed body only after prepare(), so it closes the
    connection after an answer given before; a keep-alive peer (the Hub's
    proxy) must hear so, or it sends the next request down a dead socket and
    answers 503 itself. Ground truth at the socket: the header, then EOF."""
    body = b'{"institution": "Hub U"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write(
        f"PATCH {jp_base_url}labdeck/api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Connection: keep-alive\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).decode().lower()
    assert head.startswith("http/1.1 403"), head  # no XSRF token: tornado refuses
    assert "\r\nconnection: close\r\n" in head, head
    length = int(head.split("content-length:")[1].split("\r\n")[0])
    await reader.readexactly(length)
    assert await asyncio.wait_for(reader.read(), 30) == b"", "the server closed it, as it said"
    writer.close()
    assert service[0].requests == []

    # An answer from the service keeps the connection open for the next one.
    def two_on_one_connection() -> list[Any]:
        connection = http.client.HTTPConnection("127.0.0.1", jp_http_port, timeout=30)
        sockets = []
        for _ in range(2):
            connection.request("GET", f"{jp_base_url}labdeck/api/me", headers=jp_auth_header)
            response = connection.getresponse()
            assert response.status == 200 and not response.will_close
            assert json.loads(response.read()) == {"username": "alice"}
            sockets.append(connection.sock)
        connection.close()
        return sockets

    first, second = await asyncio.to_thread(two_on_one_connection)
    assert first is second


async def test_statuses_and_headers_come_back_as_sent(labdeck_app, service, jp_fetch):
    response = await fetch(jp_fetch, "busy")
    assert response.code == 503 and response.headers["Retry-After"] == "7"
    assert json.loads(response.body)["message"] == "the database is busy"
    response = await fetch(jp_fetch, "missing")
    assert response.code == 404 and json.loads(response.body)["error"] == "not_found"
    response = await fetch(jp_fetch, "redirect", follow_redirects=False)
    assert response.code == 302
    assert response.headers["Location"].startswith("https://github.com/login/oauth/authorize")


async def test_bodies_stream_both_ways_intact(labdeck_app, service, jp_fetch):
    received, _ = service
    chunks: list[bytes] = []
    response = await fetch(jp_fetch, "export", streaming_callback=chunks.append)
    assert response.code == 200
    data = b"".join(chunks)
    expected = b"".join(bytes([i % 251]) * CHUNK for i in range(BIG // CHUNK))
    assert len(data) == BIG and data == expected
    assert len(chunks) > 1, "the answer arrives in pieces, not buffered whole"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''run.csv"

    upload = os.urandom(3 * 1024 * 1024)
    response = await fetch(
        jp_fetch, "upload", method="POST", body=upload, headers={"Content-Type": "image/png"}
    )
    assert response.code == 201
    assert json.loads(response.body) == {
        "size": len(upload),
        "sha256": hashlib.sha256(upload).hexdigest(),
    }
    request = received.requests[-1]
    assert request["headers"]["Content-Type"] == "image/png" and request["chunks"] > 1


class TestServiceDown:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any]) -> dict[str, Any]:
        closed = f"http://127.0.0.1:{free_port()}/services/labdeck/"
        return {**jp_server_config, "LabdeckApp": {"service_url": closed}}

    async def test_an_unreachable_service_is_503_with_retry_after(self, labdeck_app, jp_fetch):
        response = await fetch(jp_fetch, "me")
        assert response.code == 503 and int(response.headers["Retry-After"]) > 0
        assert json.loads(response.body)["error"] == "unavailable"
