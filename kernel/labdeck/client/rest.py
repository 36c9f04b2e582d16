"""The client that reaches the team's labdeck service over its REST API
(`<service_url>/labdeck/api/...`), as the account its credential proves.

The credential is the kernel's own: `LABDECK_API_KEY` (`Authorization:
Bearer ldk_…`, a service account's, say) when set, else the Hub token its
server gave it (`JUPYTERHUB_API_TOKEN`, `Authorization: token …`). Nothing
in the environment names the user: the service asks the Hub who the token
belongs to.

HTTP is the standard library's `urllib`: a kernel sends one batch per flush
interval and a few calls per run, so a connection per request costs nothing
that matters, and the kernel gains no dependency (`requests` is only a test
extra). Every answer that is not 2xx becomes the typed error the service
raised (`labdeck.backend.errors`, a module with no imports), so the kernel
layer handles both modes alike: 401 `Unauthenticated`, 403 `Forbidden`, 404
`NotFound`, 409 `Conflict`, 413 `TooLarge`, 400 `Malformed`, 422 `Invalid`
(with its field), 429 `RateLimited` and 503 `Unavailable` (with the
`Retry-After` seconds); a service that cannot be reached, or a proxy's
502/504, is `Unavailable` too: nothing was written, try again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from labdeck.backend.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LabdeckError,
    Malformed,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthenticated,
    Unavailable,
)

API_PATH = "labdeck/api"
# Seconds a request may take before the client gives it up as `Unavailable`
# (a recorder keeps the batch and sends it again: the points are idempotent).
DEFAULT_TIMEOUT = 30.0
# When a 503 or an unreachable service names no Retry-After.
DEFAULT_RETRY_AFTER = 5
API_KEY_PREFIX = "ldk_"

_BY_STATUS: dict[int, type[LabdeckError]] = {
    400: Malformed,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: Invalid,
}


def _retry_after(value: str | None) -> int:
    try:
        return max(0, int(float(value))) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def error_for(status: int, body: bytes, retry_after: str | None = None) -> LabdeckError:
    """The typed error of a non-2xx answer, with the service's own message."""
    message, field = f"the labdeck service answered {status}", None
    try:
        parsed = json.loads(body) if body else {}
        if isinstance(parsed, dict):
            message = str(parsed.get("message") or message)
            field = parsed.get("field")
    except ValueError:
        pass
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(retry_after))
    if status in (502, 503, 504):
        return Unavailable(message, retry_after=_retry_after(retry_after))
    kind = _BY_STATUS.get(status)
    if kind is not None:
        return kind(message, field=field if isinstance(field, str) else None)
    error = LabdeckError(message)
    error.status = status
    return error


def authorization(api_key: str, hub_token: str) -> str:
    """The header a kernel proves itself with: an API key wins (it was set
    on purpose), else the Hub token."""
    if api_key:
        return f"Bearer {api_key}"
    if hub_token:
        return f"token {hub_token}"
    raise Unauthenticated(
        "labdeck is in client mode (LABDECK_SERVICE_URL is set) but this process has no "
        "credential for the service: JUPYTERHUB_API_TOKEN (given by JupyterHub to a user's "
        "server and its kernels) or LABDECK_API_KEY"
    )


class RestClient:
    mode = "service"

    def __init__(
        self, service_url: str, authorization: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.base = service_url.rstrip("/") + "/" + API_PATH
        self._authorization = authorization
        self.timeout = timeout

    # -- the one place a request is made ------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    ) -> Any:
        url = self.base + path
        if query:
            url += "?" + urlencode(query, doseq=True)
        data = json.dumps(body, allow_nan=False).encode() if body is not None else None
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            with err:
                raise error_for(err.code, err.read(), err.headers.get("Retry-After")) from None
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise Unavailable(
                f"the labdeck service at {self.base} cannot be reached: {reason}",
                retry_after=DEFAULT_RETRY_AFTER,
            ) from None
        return json.loads(raw) if raw else None

    # -- the interface (base.Client) ------------------------------------------------
    def profile(self) -> dict[str, Any]:
        return dict(self.request("GET", "/me"))

    def ensure_project(self, spec: str) -> dict[str, Any]:
        """`GET` the project, create it when missing (a person's own, or a
        team's where they may), `GET` again if another kernel created it first."""
        entity, _, name = spec.rpartition("/")
        if not entity:
            entity = str(self.profile()["username"])
        path = f"/projects/{quote(entity, safe='')}"
        try:
            return dict(self.request("GET", f"{path}/{quote(name, safe='')}"))
        except NotFound:
            pass
        try:
            return dict(self.request("POST", path, {"name": name}))
        except Conflict:
            return dict(self.request("GET", f"{path}/{quote(name, safe='')}"))

    def beta_features(self) -> set[str]:
        listed = self.request("GET", "/me/beta-features")
        return {str(f["name"]) for f in listed if f.get("enabled")}

    def create_run(
        self,
        entity: str,
        project: str,
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        attribute_to: str | None = None,
        system: Mapping[str, Any] | None = None,
        save_code: bool | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key, value in (
            ("name", name),
            ("config", dict(config) if config is not None else None),
            ("attribute_to", attribute_to),
            ("system", dict(system) if system is not None else None),
            ("save_code", save_code),
        ):
            if value is not None:
                body[key] = value
        path = f"/projects/{quote(entity, safe='')}/{quote(project, safe='')}/runs"
        return dict(self.request("POST", path, body))

    def write_samples(self, run_id: str, samples: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        answer = self.request(
            "POST", f"/runs/{quote(run_id, safe='')}/metrics", {"samples": list(samples)}
        )
        return {"written": int(answer["written"]), "duplicates": int(answer["duplicates"])}

    def heartbeat(self, run_id: str) -> None:
        self.request("POST", f"/runs/{quote(run_id, safe='')}/heartbeat", {})

    def warm_up(self, run_id: str) -> None:
        # The service compiles its statements once for all kernels, and the
        # run was created a moment ago: nothing to pay ahead, no request.
        return None

    def end_run(
        self, run_id: str, state: str, *, dropped_samples: int = 0, error: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"state": state, "dropped_samples": dropped_samples}
        if error:
            body["error"] = error
        return dict(self.request("POST", f"/runs/{quote(run_id, safe='')}/end", body))

    def raise_idle_alert(self, run_id: str, **facts: Any) -> dict[str, Any]:
        path = f"/runs/{quote(run_id, safe='')}/idle-alert"
        return dict(self.request("POST", path, facts))

    def add_marker(
        self, run_id: str, execution_count: int | None, first_line: str, start_t: float
    ) -> dict[str, Any]:
        body = {"execution_count": execution_count, "first_line": first_line, "start_t": start_t}
        return dict(self.request("POST", f"/runs/{quote(run_id, safe='')}/markers", body))

    def end_marker(
        self,
        run_id: str,
        marker_id: int,
        end_t: float,
        error: bool = False,
        usage: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        path = f"/runs/{quote(run_id, safe='')}/markers/{int(marker_id)}"
        body: dict[str, Any] = {"end_t": end_t, "error": error}
        if usage is not None:
            body["usage"] = dict(usage)
        return dict(self.request("PATCH", path, body))

    def send_alert(
        self,
        title: str,
        text: str = "",
        level: str = "INFO",
        wait_duration: float = 0.0,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": title,
            "text": text,
            "level": level,
            "wait_duration": wait_duration,
        }
        if run_id is not None:
            body["run_id"] = run_id
        return dict(self.request("POST", "/alerts", body))

    def get_run(self, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/runs/{quote(run_id, safe='')}"))

    def list_runs(self, entity: str, project: str, *, limit: int = 100) -> dict[str, Any]:
        path = f"/projects/{quote(entity, safe='')}/{quote(project, safe='')}/runs"
        return dict(self.request("GET", path, query={"limit": limit}))

    def read_series(
        self,
        run_id: str,
        *,
        keys: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        max_points: int | None = None,
    ) -> dict[str, Any]:
        query: list[tuple[str, Any]] = [("keys", key) for key in keys or ()]
        for name, value in (("start", start), ("end", end), ("max_points", max_points)):
            if value is not None:
                query.append((name, value))
        return dict(self.request("GET", f"/runs/{quote(run_id, safe='')}/metrics", query=query))

    def list_markers(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/runs/{quote(run_id, safe='')}/markers"))

    def save_code(
        self, run_id: str, kind: str, name: str, text: str, marker_id: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "name": name, "text": text}
        if marker_id is not None:
            body["marker_id"] = marker_id
        return dict(self.request("POST", f"/runs/{quote(run_id, safe='')}/code", body))

    def list_code(self, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/runs/{quote(run_id, safe='')}/code"))

    def list_cells(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/runs/{quote(run_id, safe='')}/cells"))

    def list_alert_marks(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/runs/{quote(run_id, safe='')}/alert-marks"))

    def settings_overview(self) -> dict[str, Any]:
        return {
            "profile": self.request("GET", "/me"),
            "emails": self.request("GET", "/me/emails"),
            "api_keys": self.request("GET", "/me/api-keys"),
            "beta_features": self.request("GET", "/me/beta-features"),
            "alerts": self.request("GET", "/me/alerts"),
            "teams": self.request("GET", "/teams"),
        }
