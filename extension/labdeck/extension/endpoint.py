"""One route table entry: the REST contract of one method on one path.

Handlers, the OpenAPI document and the authorization test are all derived
from the same `Endpoint` objects, so they cannot disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Invalid, Malformed

# How a route is authorized. "user": a signed-in identity or API key, then the
# service decides with the permission table. "public": no identity needed;
# only the endpoints of `handlers.EXEMPT` may use it.
AUTH_USER = "user"
AUTH_PUBLIC = "public"

PATH_PARAM = re.compile(r"\{(\w+)\}")


@dataclass
class Call:
    """What an endpoint function gets from the request."""

    backend: Backend
    actor: Actor | None
    params: dict[str, str]
    query: Mapping[str, list[str]]
    body_bytes: bytes
    content_type: str
    files: Mapping[str, list[Any]] = field(default_factory=dict)
    form: Mapping[str, list[bytes]] = field(default_factory=dict)

    @property
    def me(self) -> Actor:
        assert self.actor is not None, "route declared public but needs an actor"
        return self.actor

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_param(self, name: str) -> int:
        raw = self.params[name]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise Invalid(f"{name} must be a whole number", field=name)
        return int(raw)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; empty body reads as {}."""
        if not self.body_bytes.strip():
            return {}
        try:
            value = json.loads(self.body_bytes)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Malformed("the request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise Malformed("the request body must be a JSON object")
        return value

    def field(self, body: Mapping[str, Any], name: str, *, required: bool = True) -> Any:
        if name not in body:
            if required:
                raise Invalid(f"{name} is required", field=name)
            return None
        return body[name]


@dataclass(frozen=True)
class Raw:
    """A non-JSON answer (an image, a CSV, a zip)."""

    data: bytes
    content_type: str
    filename: str | None = None


@dataclass(frozen=True)
class Redirect:
    location: str


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    call: Callable[[Call], Any]
    summary: str
    tag: str
    response: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    request_type: str = "application/json"
    response_type: str = "application/json"
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    status: int = 200
    auth: str = AUTH_USER
    # Runs on the server's pool for long jobs (`long_jobs`), not with the short requests.
    long: bool = False
    # A recording kernel's write into its run: while in flight it keeps the run
    # from being reaped, and the number in flight is bounded (`arrivals`).
    kernel_write: bool = False

    @property
    def params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def operation_id(self) -> str:
        return self.call.__name__
