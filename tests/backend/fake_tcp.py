"""A real TCP listener on 127.0.0.1 that plays a remote host: it greets like
an FTP server (or stays silent, like a host that never answers) and counts
who dialed it, so a test can prove what the server did or did not dial."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class FakeHost:
    def __init__(self, greeting: bytes | None) -> None:
        self.greeting = greeting
        self.dialed = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.dialed += 1
            self._open.append(conn)
            if self.greeting is not None:
                try:
                    conn.sendall(self.greeting)
                except OSError:
                    pass

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in self._open:
            conn.close()


@contextmanager
def fake_host(greeting: bytes | None) -> Iterator[FakeHost]:
    host = FakeHost(greeting)
    try:
        yield host
    finally:
        host.close()
