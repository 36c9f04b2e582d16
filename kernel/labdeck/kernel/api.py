"""The plain Python API (F-UI-2): `labdeck.monitor()` and `labdeck.alert()`."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from labdeck.backend.context import Backend
from labdeck.backend.services import alerts, identity

from .session import Monitor, current_monitor


class AlertLevel(str, enum.Enum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def monitor(
    project: str | None = None,
    *,
    interval: float | None = None,
    disk: list[str] | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    chart: bool = False,
) -> Monitor:
    """A monitored run: `with labdeck.monitor(project="p", interval=1) as run: ...`.

    The run ends `finished`, or `crashed` when an exception leaves the block
    (the exception still propagates). `chart=True` shows a live chart in a
    notebook.
    """
    session = Monitor(project, interval=interval, disk=disk, name=name, config=config)
    if chart:
        from .charting import attach_chart

        attach_chart(session)
    return session


def alert(
    title: str,
    text: str = "",
    level: AlertLevel | str = AlertLevel.INFO,
    wait_duration: float | dt.timedelta = 0.0,
) -> dict[str, Any]:
    """Raise a custom alert; repeats of `title` inside `wait_duration` are suppressed."""
    seconds = (
        wait_duration.total_seconds()
        if isinstance(wait_duration, dt.timedelta)
        else float(wait_duration)
    )
    active = current_monitor()
    backend = active.backend if active is not None else Backend.open()
    actor = active.actor if active is not None else identity.process_actor(backend)
    return alerts.send_alert(
        backend,
        actor,
        title,
        text,
        AlertLevel(level).value if not isinstance(level, AlertLevel) else level.value,
        seconds,
        run_id=active.run_id if active is not None else None,
    )
