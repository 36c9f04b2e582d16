"""Alerts raised from code: custom ones (`labdeck.alert()`, `POST /alerts`,
F-US-4) and a kernel's idle-resource alert (F-SM-13)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from .. import validate
from ..access import actor_user, project_by_id
from ..alerting import LEVELS, dispatch_run_event, raise_custom_alert
from ..context import Actor, Backend
from ..errors import Invalid, NotFound
from ..models import Run
from .runs import load_run, require_logger, require_running

MAX_WAIT_S = 7 * 24 * 3600
MAX_TEXT = 10_000


def _level(value: Any) -> str:
    """`level="warn"` from a script means WARN: the case is not worth an error."""
    level = value.upper() if isinstance(value, str) else value
    return validate.choice(level, "level", LEVELS)


def _wait(value: Any) -> float:
    """Seconds, or a `timedelta` from Python callers."""
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid("wait_duration must be a number of seconds", field="wait_duration")
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT_S:
        raise Invalid(
            f"wait_duration must be between 0 and {MAX_WAIT_S} seconds (7 days)",
            field="wait_duration",
        )
    return float(value)


def send_alert(
    backend: Backend,
    actor: Actor,
    title: str,
    text: str = "",
    level: str = "INFO",
    wait_duration: float | dt.timedelta = 0.0,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Raise an alert to the actor's own channels; a repeat of the same title
    within `wait_duration` seconds is recorded as suppressed and not sent."""
    clean_title = validate.text(title, "title", min_len=1, max_len=256)
    clean_text = validate.text(text, "text", max_len=MAX_TEXT, strip=False)
    clean_level = _level(level)
    wait = _wait(wait_duration)
    clean_run = None if run_id is None else validate.text(run_id, "run_id", min_len=1, max_len=16)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        if clean_run is not None:
            run = session.get(Run, clean_run)
            if run is None:
                raise NotFound("no run with that id")
            project_by_id(session, user, run.project_id, "run")
        return raise_custom_alert(
            backend, session, user, clean_run, clean_title, clean_text, clean_level, wait
        )


def _percent(value: Any, field: str) -> float | None:
    return None if value is None else validate.finite_number(value, field, field)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


IDLE_FIELDS = (
    "idle_s",
    "notebook",
    "kernel_id",
    "gpu_memory_bytes",
    "gpu_util_percent",
    "cpu_percent",
)


def idle_facts(body: Mapping[str, Any]) -> dict[str, Any]:
    """`raise_idle_alert`'s keyword arguments from a request's body (a kernel
    in client mode): a field it does not know, or no `idle_s`, is refused."""
    unknown = sorted(set(body) - set(IDLE_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]!r} is not a field of an idle alert", field=unknown[0])
    if "idle_s" not in body:
        raise Invalid("idle_s is required", field="idle_s")
    return dict(body)


def raise_idle_alert(
    backend: Backend,
    actor: Actor,
    run_id: str,
    *,
    idle_s: float,
    notebook: str = "",
    kernel_id: str = "",
    gpu_memory_bytes: float = 0.0,
    gpu_util_percent: float | None = None,
    cpu_percent: float | None = None,
) -> dict[str, Any]:
    """F-SM-13: the kernel of `run_id` has run no cell for `idle_s` seconds
    while holding resources. Raises the `idle` alert to the run's creator
    and, where the team switched `idle` on, the team's channels, naming the
    notebook, the kernel, what is held and for how long. Only the identity
    that logs the run may raise it (its kernel)."""
    seconds = validate.finite_number(idle_s, "idle_s", "idle_s")
    if seconds < 0:
        raise Invalid("idle_s must not be negative", field="idle_s")
    where = validate.text(notebook, "notebook", max_len=1024) or "a script or console"
    kernel = validate.text(kernel_id, "kernel_id", max_len=64) or "?"
    held_bytes = validate.finite_number(gpu_memory_bytes, "gpu_memory_bytes", "gpu_memory_bytes")
    gpu_util = _percent(gpu_util_percent, "gpu_util_percent")
    cpu = _percent(cpu_percent, "cpu_percent")
    held = []
    if held_bytes > 0:
        util = "" if gpu_util is None else f" at {gpu_util:.0f} % GPU use"
        held.append(f"{_gib(held_bytes)} of GPU memory{util}")
    if cpu is not None:
        held.append(f"a monitored run at {cpu:.1f} % CPU")
    detail = (
        f"Notebook: {where}\nKernel: {kernel}\n"
        f"No cell has run for {seconds / 60:.0f} min while it holds "
        f"{' and '.join(held) or 'resources'}.\n"
        "Shut the kernel down, or free what it holds, if it is not needed."
    )
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, _found = load_run(session, user, run_id)
        require_logger(run, user.id, "raise its idle alert")
        require_running(run, "raise an idle alert")
        dispatch_run_event(backend, session, run, "idle", detail=detail)
        return {"run_id": run.id, "event": "idle", "text": detail}
