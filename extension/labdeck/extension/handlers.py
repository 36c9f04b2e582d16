"""The one base handler and the glue from the route table to Tornado.

`LabdeckHandler.prepare()` decides who is asking (a labdeck API key, else the
Jupyter sign-in as `signin.SignInPolicy` reads it, its account created on
first sight) and applies the operator's jupyter_server `Authorizer`;
`_dispatch` runs the endpoint's service call off the event loop and maps
typed errors to HTTP statuses.
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import partial
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from tornado import httputil, web

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Invalid, LabdeckError, RetryLater, Unauthenticated
from labdeck.backend.services import identity
from labdeck.backend.tokens import API_KEY_PREFIX

from .arrivals import Arrivals
from .endpoint import AUTH_PUBLIC, PATH_PARAM, Call, Endpoint, Raw, Redirect
from .long_jobs import LongJobs
from .signin import SignInPolicy

API_PREFIX = "/labdeck/api"
AUTH_RESOURCE = "labdeck"
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)

# The only routes that answer without an identity: the OpenAPI document, the
# email verification link (the link's token is the proof), and GitHub's
# OAuth redirect (its `state` ties it to the user who started the flow).
EXEMPT = {
    ("GET", "/openapi.json"),
    ("GET", "/emails/verify"),
    ("GET", "/github/callback"),
}


class SignInRefused(web.HTTPError):
    """An identity provider's refusal that is more than "nobody signed in":
    a token without the needed scope (403), its authority unreachable (503).
    Other jupyter_server handlers answer its status; labdeck's answer its
    typed error as JSON."""

    def __init__(self, error: LabdeckError) -> None:
        super().__init__(error.status, error.message)
        self.error = error


def labdeck_key(request: httputil.HTTPServerRequest) -> str | None:
    """A labdeck API key in `Authorization: Bearer`, or None. Any other bearer
    value (a Jupyter token) is left to jupyter_server."""
    match = _BEARER.match(request.headers.get("Authorization", ""))
    if match and match.group(1).startswith(API_KEY_PREFIX):
        return match.group(1)
    return None


class LabdeckHandler(APIHandler):
    auth_resource = AUTH_RESOURCE
    endpoints: dict[str, Endpoint] = {}

    @property
    def labdeck(self) -> Backend:
        backend: Backend = self.settings["labdeck_backend"]
        return backend

    @property
    def arrivals(self) -> Arrivals | None:
        arrivals: Arrivals | None = self.settings.get("labdeck_arrivals")
        return arrivals

    @property
    def long_jobs(self) -> LongJobs:
        jobs: LongJobs = self.settings["labdeck_long_jobs"]
        return jobs

    def check_xsrf_cookie(self) -> None:
        # A labdeck API key is not ambient authority (a browser never sends it
        # on its own), so like Jupyter tokens it needs no XSRF check.
        if labdeck_key(self.request) is not None:
            return None
        return super().check_xsrf_cookie()

    async def prepare(self) -> None:  # type: ignore[override]
        self.actor: Actor | None = None
        endpoint = self.endpoints.get(self.request.method or "")
        key = labdeck_key(self.request)
        if key is not None:
            if not self.check_host():
                raise web.HTTPError(403)
            # A key resolved lately is answered here, on the event loop: no
            # thread, no database (`keycache`, the revocation bound).
            self.actor = identity.cached_key(self.labdeck, key)
            if self.actor is not None:
                return
            try:
                self.actor = await self._run(identity.authenticate_key, self.labdeck, key)
            except LabdeckError as exc:
                self._fail(exc)
                return
            return
        try:
            await super().prepare()
        except SignInRefused as exc:
            self._fail(exc.error)
            return
        except web.HTTPError as exc:
            if exc.status_code == 403 and self.current_user is None:
                self._fail(Unauthenticated("sign in or send an API key"))
                return
            raise
        if endpoint is None or self.current_user is None:
            return
        if endpoint.auth != AUTH_PUBLIC:
            action = "read" if self.request.method in ("GET", "HEAD") else "write"
            if not self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE):
                raise web.HTTPError(403, "the server's authorizer does not allow this")
        # Public routes still learn who is signed in, when someone is (the GitHub
        # callback ties its `state` to that person).
        policy: SignInPolicy = self.settings["labdeck_sign_in"]
        who = policy.sign_in(self.identity_provider, self.current_user)
        try:
            self.actor = await self._run(
                partial(identity.ensure_user, self.labdeck, who.name, hub_admin=who.hub_admin)
            )
        except LabdeckError as exc:
            self._fail(exc)

    def _fail(self, exc: LabdeckError) -> None:
        self.set_status(exc.status)
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, RetryLater):
            self.set_header("Retry-After", str(exc.retry_after))
        self.finish(json.dumps(exc.to_dict()))

    async def _run(self, func: Any, *args: Any) -> Any:
        """Database work runs in a thread: the server's event loop never waits on
        it. Long requests take `long_jobs` instead (`Endpoint.long`)."""
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        else:
            message = httputil.responses.get(status_code, "error")
        kind = {
            400: "malformed",
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(status_code, "error")
        self.finish(json.dumps({"error": kind, "message": message}))

    async def _dispatch(self, **params: str) -> None:
        endpoint = self.endpoints[self.request.method or ""]
        if endpoint.auth != AUTH_PUBLIC and self.actor is None:
            self._fail(Unauthenticated("sign in or send an API key"))
            return
        files: dict[str, list[Any]] = {}
        form: dict[str, list[bytes]] = {}
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            httputil.parse_body_arguments(
                content_type, self.request.body, form, files, self.request.headers
            )
        query = {
            k: [v.decode("utf-8", "replace") for v in vs]
            for k, vs in self.request.query_arguments.items()
        }
        # No database takes a NUL in text (PostgreSQL refuses it outright).
        for name, value in [*params.items(), *((k, v) for k, vs in query.items() for v in vs)]:
            if "\x00" in value:
                self._fail(Invalid(f"{name} must not contain NUL characters", field=name))
                return
        call = Call(
            backend=self.labdeck,
            actor=self.actor,
            params=params,
            query=query,
            body_bytes=self.request.body or b"",
            content_type=content_type,
            files=files,
            form=form,
        )
        try:
            if endpoint.long:
                result = await self.long_jobs.run(endpoint.call, call)
            elif endpoint.kernel_write and self.arrivals is not None:
                user_id = self.actor.user_id if self.actor is not None else None
                with self.arrivals.admit(params.get("run_id", ""), user_id):
                    result = await self._run(endpoint.call, call)
            else:
                result = await self._run(endpoint.call, call)
        except LabdeckError as exc:
            self._fail(exc)
            return
        self._respond(endpoint, result)

    def _respond(self, endpoint: Endpoint, result: Any) -> None:
        if isinstance(result, Redirect):
            self.redirect(result.location)
            return
        self.set_status(endpoint.status)
        if endpoint.status == 204:
            self.finish()
        elif isinstance(result, Raw):
            if result.filename:
                self.set_header(
                    "Content-Disposition", f"attachment; filename*=UTF-8''{quote(result.filename)}"
                )
            # APIHandler.finish would otherwise stamp it application/json.
            self.finish(result.data, set_content_type=result.content_type)
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(result))


def _pattern(path: str) -> str:
    parts: list[str] = []
    last = 0
    for match in PATH_PARAM.finditer(path):
        parts.append(re.escape(path[last : match.start()]))
        name = match.group(1)
        parts.append(f"(?P<{name}>.+)" if name == "path" else f"(?P<{name}>[^/]+)")
        last = match.end()
    parts.append(re.escape(path[last:]))
    return re.escape(API_PREFIX) + "".join(parts)


def _method(http_method: str, public: bool) -> Any:
    async def handle(self: LabdeckHandler, **params: str) -> None:
        await self._dispatch(**params)

    handle.__name__ = http_method.lower()
    return allow_unauthenticated(handle) if public else handle


def handler_classes(routes: list[Endpoint]) -> list[tuple[str, type]]:
    """One Tornado handler class per path, with one method per endpoint."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in routes:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    specs: list[tuple[str, type]] = []
    for path, methods in by_path.items():
        namespace: dict[str, Any] = {"endpoints": methods}
        for verb, endpoint in methods.items():
            namespace[verb.lower()] = _method(verb, endpoint.auth == AUTH_PUBLIC)
        cls = type(f"Labdeck{len(specs)}Handler", (LabdeckHandler,), namespace)
        specs.append((_pattern(path), cls))
    # Literal paths before patterns, so `/me/emails` never matches `/me/{x}`.
    specs.sort(key=lambda spec: ("(?P<" in spec[0], -len(spec[0])))
    return specs
