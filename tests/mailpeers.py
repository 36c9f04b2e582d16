"""Real protocol peers for delivery tests, on 127.0.0.1: an SMTP server
(aiosmtpd) that keeps what it receives, and a Slack incoming-webhook
stand-in (a tornado HTTP server) that keeps the JSON posted to it."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from servers import free_port, tornado_in_thread
from tornado import web


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Inbox:
    """What the SMTP server accepted; `refuse` names recipients it answers 550."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.1)
        raise AssertionError(f"{len(self.received)} of {count} mails arrived in {timeout:.0f} s")


class SmtpPeer:
    """aiosmtpd on a fixed free port, that can be stopped and started again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> SmtpPeer:
        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=30
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def smtp_peer() -> Iterator[SmtpPeer]:
    peer = SmtpPeer().start()
    try:
        yield peer
    finally:
        peer.stop()


def smtp_settings(port: int) -> dict[str, Any]:
    """The settings that point labdeck at the test's SMTP server."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_sender": "labdeck <labdeck@example.org>",
        "delivery_backoff": 0.2,
    }


@dataclass
class Hook:
    """The Slack stand-in: every JSON body posted to /hook/<name>."""

    port: int
    posts: list[tuple[str, dict[str, Any]]]
    lock: threading.Lock

    def url(self, name: str = "user") -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def wait_for(
        self, predicate: Callable[[str, dict[str, Any]], bool], timeout: float = 60.0
    ) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for name, body in self.posts:
                    if predicate(name, body):
                        return name, body
            time.sleep(0.1)
        raise AssertionError(f"no matching Slack post in {timeout:.0f} s; got {self.posts}")


@contextmanager
def slack_peer() -> Iterator[Hook]:
    posts: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    class Handler(web.RequestHandler):
        def post(self, name: str) -> None:
            assert self.request.headers.get("Content-Type") == "application/json"
            with lock:
                posts.append((name, json.loads(self.request.body)))
            self.write("ok")

    app = web.Application([(r"/hook/(\w+)", Handler)])
    with tornado_in_thread(app) as port:
        yield Hook(port, posts, lock)
