"""Wires a monitor to the live chart of the widgets layer. The chart knows no
sampler; the sampler knows no chart; this is where they meet."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .session import Monitor

log = logging.getLogger("labdeck")


def preload() -> None:
    """Import the live chart's module (Plotly's widgets with it) now, so a
    later chart starts without that wait (`magic.Preparation`). Here because
    this module is the kernel's one door to the widgets layer."""
    from labdeck.widgets.live import LiveChart

    # Plotly builds each validator on first use: a chart of a few panels,
    # never shown, makes the live chart's first draw cheap.
    warm = LiveChart(interactive=False)
    warm(0.0, {"cpu": 1.0, "memory": 1.0, "proc.memory.rssMB": 1.0, "disk.in": 1.0})
    warm.add_marker({"start_t": 0.0, "end_t": None, "execution_count": 1, "first_line": "x"})
    warm.close()


def attach_chart(monitor: Monitor) -> Any:
    from labdeck.widgets.live import attach_live_chart

    refetch = "chart_zoom_refetch" in monitor.client.beta_features()
    return attach_live_chart(monitor, fetch_window=monitor.window if refetch else None)


class PendingChart:
    """Holds samples and cell markers until the chart exists, then hands
    them, and everything after, to it."""

    def __init__(self) -> None:
        self.shown = threading.Event()
        self._lock = threading.Lock()
        self._samples: list[tuple[float, dict[str, float]]] = []
        self._markers: list[dict[str, Any]] = []
        self._chart: Any = None
        self.stopped = False
        # Starts building the chart (set by `attach_chart_when_ready`).
        self.build: Callable[[], None] = lambda: None

    def sample(self, t: float, values: dict[str, float]) -> None:
        with self._lock:
            if self._chart is None:
                self._samples.append((t, values))
                return
            chart = self._chart
        chart(t, values)

    def marker(self, marker: dict[str, Any]) -> None:
        with self._lock:
            if self._chart is None:
                self._markers.append(marker)
                return
            chart = self._chart
        chart.add_marker(marker)

    def connect(self, chart: Any) -> None:
        with self._lock:
            for t, values in self._samples:
                chart(t, values)
            for marker in self._markers:
                chart.add_marker(marker)
            self._samples, self._markers, self._chart = [], [], chart
        self.shown.set()

    def wait(self, timeout: float | None = None) -> Any:
        """The live chart once it is shown (None if not within `timeout`)."""
        self.shown.wait(timeout)
        return self._chart

    def highlight_band(self, start_t: float | None) -> None:
        """The live chart's `highlight_band`, once the chart is shown."""
        with self._lock:
            chart = self._chart
        if chart is not None:
            chart.highlight_band(start_t)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            chart = self._chart
        if chart is not None:
            chart.close()


def attach_chart_when_ready(monitor: Monitor, ready: Callable[[], None]) -> PendingChart:
    """`%labdeck start`: show the chart's place in the cell's output now and
    draw the chart there once `ready()` returns (Plotly loaded, which takes
    seconds the first time: `magic.Preparation`). Samples and cell markers
    taken meanwhile are kept for it, so the start never waits for Plotly."""
    from IPython.display import HTML, display

    relay = PendingChart()
    monitor.add_sink(relay.sample)
    monitor.add_marker_sink(relay.marker)
    monitor.add_stop_hook(relay.stop)
    handle = display(HTML("<i>labdeck: the live chart is loading…</i>"), display_id=True)

    def build() -> None:
        try:
            ready()
            from labdeck.widgets.live import LiveChart

            chart = LiveChart()
            if "chart_zoom_refetch" in monitor.client.beta_features():
                chart.fetch_window = monitor.window
            if handle is not None:
                chart.redisplay = lambda: handle.update(chart.widget)
            relay.connect(chart)
            if handle is not None:
                handle.update(chart.widget)
            if relay.stopped:
                chart.close()
        except Exception as exc:
            log.warning("labdeck: the live chart could not be shown: %s", exc)

    # Drawn after the start returned: building the figure (Plotly's
    # validators) would otherwise take the interpreter from the start itself.
    relay.build = lambda: threading.Thread(
        target=build, name="labdeck-chart-start", daemon=True
    ).start()
    return relay
