"""The plain Python API (F-UI-2): `labdeck.monitor()` and `labdeck.alert()`,
both through the process's client (`labdeck.client.mode`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from labdeck.backend.alerting import AlertLevel
from labdeck.client import mode

from .session import Monitor, current_monitor


def monitor(
    project: str | None = None,
    *,
    interval: float | None = None,
    disk: str | list[str] | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    chart: bool = False,
    openmetrics: dict[str, str] | None = None,
    save_code: bool | None = None,
) -> Monitor:
    """A monitored run: `with labdeck.monitor(project="p", interval=1) as run: ...`.

    The run ends `finished`, or `crashed` when an exception leaves the block
    (the exception still propagates). `chart=True` shows a live chart in a
    notebook. `disk` is a path or a list of them; `openmetrics` maps names to
    the URLs of endpoints to scrape, besides those configured. `save_code`
    keeps the run's code (F-TS-4; None: the team's default): a script's own
    command line and file.
    """
    session = Monitor(
        project,
        interval=interval,
        disk=disk,
        name=name,
        config=config,
        openmetrics=openmetrics,
        save_code=save_code,
    )
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
    """Raise a custom alert; repeats of `title` inside `wait_duration` are suppressed.

    `level` is an `AlertLevel` or its name in any case (`"warn"`, `"WARN"`);
    the service checks it, as it does for `POST /alerts`, so anything else
    (`"warning"` included) is refused with the same `Invalid` error that
    names the accepted levels, and nothing is recorded.
    """
    seconds = (
        wait_duration.total_seconds()
        if isinstance(wait_duration, dt.timedelta)
        else float(wait_duration)
    )
    active = current_monitor()
    client = active.client if active is not None else mode.client()
    return client.send_alert(
        title,
        text,
        level.value if isinstance(level, AlertLevel) else level,
        seconds,
        run_id=active.run_id if active is not None else None,
    )
