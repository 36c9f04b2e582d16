"""Custom alerts from code (`labdeck.alert()`, `POST /alerts`, F-US-4)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from .. import validate
from ..access import actor_user, visible_project_by_id
from ..alerting import LEVELS, raise_custom_alert
from ..context import Actor, Backend
from ..errors import Invalid, NotFound
from ..models import Run

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
            visible_project_by_id(session, user, run.project_id, "run")
        return raise_custom_alert(
            backend, session, user, clean_run, clean_title, clean_text, clean_level, wait
        )
