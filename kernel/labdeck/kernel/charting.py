"""Wires a monitor to the live chart of the widgets layer. The chart knows no
sampler; the sampler knows no chart; this is where they meet."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import betas

from .session import Monitor


def attach_chart(monitor: Monitor) -> Any:
    from labdeck.widgets.live import attach_live_chart

    refetch = betas.is_enabled(monitor.backend, monitor.actor, "chart_zoom_refetch")
    return attach_live_chart(monitor, fetch_window=monitor.window if refetch else None)
