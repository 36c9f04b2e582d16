"""Client mode (F-ID-4): a user's single-user server forwards `/labdeck/api/*`
to the team's labdeck service, so the sidebar panel and the widgets work
unchanged, and opens no database.

The request is first signed in by this server's own jupyter_server (the
Hub's OAuth cookie, the server's token; XSRF for cookie sessions) and
authorized for the `labdeck` resource. It then goes to the service with
this server's own JupyterHub token (`JUPYTERHUB_API_TOKEN`), whose owner is
the server's user: whoever may use a single-user server acts as its owner
(F-ID-1), as its kernels, which hold the same token, do. A request that
carries a labdeck API key (`Bearer ldk_…`) goes with that key instead, and
the service authenticates it. Nothing the browser declares (a user name, a
cookie of the service) travels.

Bodies stream both ways (an artifact upload, an export download) and the
service's status and headers (`Retry-After` of a 503, `Location`,
`Content-Disposition`) come back as they are. When the service cannot be
reached this server answers 503 with Retry-After itself.

A streaming handler reads the request body only after prepare(), so an
answer given before it (a refusal, tornado's own XSRF 403) ends with
tornado closing the connection, after headers that said nothing of it. A
keep-alive client (JupyterHub's proxy) would then send its next request down
the dead socket and answer that one 503 itself; such an answer says
`Connection: close`.
"""

from __future__ import annotations

import asyncio
import json
from asyncio import Future
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from tornado import httputil, web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .handlers import API_PREFIX, AUTH_RESOURCE, EXEMPT, labdeck_key

# Headers of the service's answer that mean something to the browser; the
# rest (hop-by-hop, lengths and encodings tornado recomputes) stay behind.
PASSED_BACK = (
    "Content-Type",
    "Content-Disposition",
    "Retry-After",
    "Location",
    "ETag",
    "Last-Modified",
    "Cache-Control",
)
# Headers of the request the service needs; never Cookie or Authorization.
PASSED_ON = ("Content-Type", "Accept", "If-None-Match", "If-Modified-Since")
UNREACHABLE_RETRY_AFTER = 5
# Responses stream, so their size is bounded by nothing but this.
MAX_BODY = 1 << 40


class ServiceClient:
    """Where the service is and how this server proves who it is to it."""

    def __init__(self, service_url: str, hub_token: str, timeout: float = 300.0) -> None:
        self.api_url = service_url.rstrip("/") + API_PREFIX
        self.hub_token = hub_token
        self.timeout = timeout
        self.http = AsyncHTTPClient(force_instance=True, max_body_size=MAX_BODY)

    def close(self) -> None:
        self.http.close()


@web.stream_request_body
class ForwardHandler(APIHandler):
    auth_resource = AUTH_RESOURCE
    _body_read = False

    @property
    def service(self) -> ServiceClient:
        client: ServiceClient = self.settings["labdeck_service"]
        return client

    async def prepare(self) -> None:  # type: ignore[override]
        self._body: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._started = False
        key = labdeck_key(self.request)
        if key is not None:
            if not self.check_host():
                raise web.HTTPError(403)
            self._authorization = f"Bearer {key}"
            return
        await super().prepare()
        path = "/" + self.path_args[0]
        public = (self.request.method, path) in EXEMPT
        if not public:
            if self.current_user is None:
                self._refuse(401, "unauthenticated", "sign in or send an API key")
                return
            action = "read" if self.request.method in ("GET", "HEAD") else "write"
            if not self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE):
                self._refuse(403, "forbidden", "the server's authorizer does not allow this")
                return
        self._authorization = f"token {self.service.hub_token}"

    def check_xsrf_cookie(self) -> None:
        # As for labdeck's own handlers: an API key is no ambient authority.
        if labdeck_key(self.request) is not None:
            return None
        return super().check_xsrf_cookie()

    def finish(self, *args: Any, **kwargs: Any) -> Future[Any]:
        if not self._body_read and not self._headers_written:
            self.set_header("Connection", "close")
        return super().finish(*args, **kwargs)

    def data_received(self, chunk: bytes) -> None:
        self._body.put_nowait(chunk)

    def _refuse(self, status: int, kind: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": kind, "message": message}))

    def _has_body(self) -> bool:
        headers = self.request.headers
        return "Transfer-Encoding" in headers or int(headers.get("Content-Length") or 0) > 0

    async def _produce(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        while (chunk := await self._body.get()) is not None:
            await write(chunk)

    def _on_header(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line:
            return
        if not self._started:
            self._started = True
            start = httputil.parse_response_start_line(line)
            self.set_status(start.code, start.reason)
            self.clear_header("Content-Type")
            return
        name, _, value = line.partition(":")
        if name.strip().title() in PASSED_BACK:
            self.set_header(name.strip(), value.strip())

    def _on_chunk(self, chunk: bytes) -> Awaitable[None]:
        self.write(chunk)
        return self.flush()

    async def _forward(self, path: str) -> None:
        # tornado calls the method once the whole body has arrived.
        self._body_read = True
        self._body.put_nowait(None)
        # The path as the client encoded it (`path` is decoded): an artifact's
        # file name with `%2F` or `%3F` must reach the service unchanged.
        raw = self.request.path.split(API_PREFIX + "/", 1)[1]
        url = f"{self.service.api_url}/{raw}"
        if self.request.query:
            url += f"?{self.request.query}"
        headers = {k: v for k, v in self.request.headers.items() if k.title() in PASSED_ON}
        headers["Authorization"] = self._authorization
        if "Content-Length" in self.request.headers and self._has_body():
            headers["Content-Length"] = self.request.headers["Content-Length"]
        body: Any = {}
        if self._has_body():
            body["body_producer"] = self._produce
        elif self.request.method in ("POST", "PUT", "PATCH"):
            body["body"] = b""
        request = HTTPRequest(
            url,
            method=self.request.method or "GET",
            headers=headers,
            follow_redirects=False,
            decompress_response=False,
            allow_nonstandard_methods=True,
            request_timeout=self.service.timeout,
            header_callback=self._on_header,
            streaming_callback=self._on_chunk,
            **body,
        )
        try:
            await self.service.http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as exc:
            # Refused, reset or timed out (with raise_error=False, statuses never raise).
            if self._started:
                raise  # the answer is half sent: all we can do is cut it
            self.log.warning("labdeck: the labdeck service cannot be reached: %s", exc)
            self.set_header("Retry-After", str(UNREACHABLE_RETRY_AFTER))
            self._refuse(503, "unavailable", "the labdeck service cannot be reached now")
            return
        if not self._started:
            self._refuse(502, "error", "the labdeck service gave no answer")
            return
        self.finish()

    # Every method of the REST API; whether a route needs a signed-in user
    # is decided in prepare(), from EXEMPT, as in the service itself.
    get = allow_unauthenticated(_forward)
    post = allow_unauthenticated(_forward)
    put = allow_unauthenticated(_forward)
    patch = allow_unauthenticated(_forward)
    delete = allow_unauthenticated(_forward)
    head = allow_unauthenticated(_forward)


def forward_handlers() -> list[tuple[str, type]]:
    return [(API_PREFIX + "/(.*)", ForwardHandler)]
