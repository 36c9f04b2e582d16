"""Real HTTP peers on 127.0.0.1 for the client tests: a stdlib
`ThreadingHTTPServer` that can go away (its port then refuses connections)
and come back on the same port."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from servers import free_port

# (status, headers, body) for a request (method, path, headers, parsed body).
Answer = tuple[int, dict[str, str], Any]
Handler = Callable[[str, str, dict[str, str], Any], Answer]


class Peer:
    """A server answering with `handler`; `stop()` closes the port, `start()`
    opens it again where it was."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = free_port()
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/labdeck/"

    def start(self) -> Peer:
        peer = self

        class _Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = {k: v for k, v in self.headers.items()}
                peer.requests.append((self.command, self.path, headers, body))
                status, extra, answer = peer.handler(self.command, self.path, headers, body)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
