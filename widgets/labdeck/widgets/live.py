"""The live chart (F-SM-6): a Plotly `FigureWidget` fed one sample at a time.

It is a passive view. The sampler hands it samples through `__call__`,
which only appends to a list under a lock: the sampler thread never waits on
the chart. A drawing thread turns what arrived into ONE batched widget
update at most every `refresh` seconds. Each trace keeps a bounded number
of points: when a trace's buffer doubles past `max_points` it is decimated
with MinMaxLTTB (min/max-preserving), so memory and update cost stay flat
however long the run; the full data is in the database, and a zoom asks the
database for the window at full resolution (beta flag `chart_zoom_refetch`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import plotly.graph_objects as go

from labdeck.backend.downsample import downsample

from .panels import Panels, marker_shapes

log = logging.getLogger("labdeck")

WindowFetcher = Callable[[float, float, int], dict[str, Any]]


class _Series:
    """A growable pair of float arrays, decimated when full."""

    __slots__ = ("t", "v", "n")

    def __init__(self, capacity: int) -> None:
        self.t = np.empty(capacity)
        self.v = np.empty(capacity)
        self.n = 0

    def append(self, t: float, v: float, max_points: int) -> None:
        if self.n == len(self.t):
            keep_t, keep_v, _ = downsample(self.t[: self.n], self.v[: self.n], max_points)
            self.n = len(keep_t)
            self.t[: self.n] = keep_t
            self.v[: self.n] = keep_v
        self.t[self.n] = t
        self.v[self.n] = v
        self.n += 1


class LiveChart:
    """Each trace shows 500 to 1,000 points: about a panel's width in pixels,
    min/max-preserving, so an update costs the same after a minute or a week;
    zooming asks the database for detail."""

    def __init__(self, *, max_points: int = 500, refresh: float = 1.0, title: str = "") -> None:
        self.max_points = max_points
        self.refresh = refresh
        self.figure = go.FigureWidget()
        self.panels = Panels(self.figure, title)
        self.series: dict[str, _Series] = {}
        self.markers: list[dict[str, Any]] = []
        self.fetch_window: WindowFetcher | None = None
        self.zoomed = False
        self.updates = 0
        self._pending: list[tuple[float, dict[str, float]]] = []
        self._markers_changed = False
        self._last_t = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="labdeck-chart", daemon=True)
        self._thread.start()
        self.figure.layout.on_change(self._on_range, "xaxis.range")

    # -- sinks (called from the sampler thread / the cell hooks) ---------------------------

    def __call__(self, t: float, values: dict[str, float]) -> None:
        with self._lock:
            self._pending.append((t, values))
        self._wake.set()

    def add_marker(self, marker: dict[str, Any]) -> None:
        with self._lock:
            if marker.get("end_t") is not None and self.markers:
                for index in range(len(self.markers) - 1, -1, -1):
                    if self.markers[index]["start_t"] == marker["start_t"]:
                        self.markers[index] = marker
                        break
                else:
                    self.markers.append(marker)
            else:
                self.markers.append(marker)
            self._markers_changed = True
        self._wake.set()

    # -- drawing -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                self.draw()
            except Exception:
                log.exception("labdeck: the live chart failed to draw; it stops updating")
                return
            self._stop.wait(self.refresh)

    def draw(self) -> None:
        """Apply everything that arrived since the last draw in one update."""
        with self._lock:
            pending, self._pending = self._pending, []
            markers = list(self.markers) if self._markers_changed else None
            self._markers_changed = False
        if not pending and markers is None:
            return
        capacity = 2 * self.max_points
        for t, values in pending:
            for key, value in values.items():
                series = self.series.get(key)
                if series is None:
                    series = self.series[key] = _Series(capacity)
                series.append(t, value, self.max_points)
            self._last_t = max(self._last_t, t)
        running = any(m.get("end_t") is None for m in self.markers)
        self.panels.ensure(self.series)
        if not self.zoomed:
            changed = sorted({k for _, values in pending for k in values})
            self._restyle(
                [self.panels.traces[k] for k in changed],
                [self.series[k].t[: self.series[k].n] * 1000 for k in changed],
                [self.series[k].v[: self.series[k].n].copy() for k in changed],
            )
        if markers is not None or running:
            shapes, labels = marker_shapes(self.markers, self._last_t)
            with self.figure.batch_update():
                self.figure.layout.shapes = shapes
                self.figure.layout.annotations = labels
        self.updates += 1

    def _restyle(self, traces: list[int], xs: list[Any], ys: list[Any]) -> None:
        """Every changed trace in one restyle message. `plotly_restyle` stores
        the arrays as given; setting `trace.x` would run plotly's validators
        on each array, which cost more than everything else in an update."""
        if traces:
            self.figure.plotly_restyle({"x": xs, "y": ys}, trace_indexes=traces)

    # -- zoom ----------------------------------------------------------------------------------

    def _on_range(self, layout: Any, x_range: Any) -> None:
        if self.fetch_window is None:
            return
        if not x_range or x_range[0] is None:
            self.zoomed = False
            return
        start, end = (_as_seconds(v) for v in x_range)
        threading.Thread(target=self._load_window, args=(start, end), daemon=True).start()

    def _load_window(self, start: float, end: float) -> None:
        assert self.fetch_window is not None
        try:
            window = self.fetch_window(start, end, self.max_points)
        except Exception as exc:
            log.warning("labdeck: could not load the zoomed window: %s", exc)
            return
        self.zoomed = True
        keys = [key for key in window["series"] if key in self.panels.traces]
        self._restyle(
            [self.panels.traces[k] for k in keys],
            [np.asarray(window["series"][k]["t"], dtype=float) * 1000 for k in keys],
            [np.asarray(window["series"][k]["v"], dtype=float) for k in keys],
        )

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.draw()


def _as_seconds(value: Any) -> float:
    """Plotly reports a date axis range as strings or milliseconds."""
    if isinstance(value, (int, float)):
        return float(value) / 1000
    import datetime as dt

    text = str(value).replace(" ", "T")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


class Monitored(Protocol):
    """What a live chart needs of a monitor (the kernel's `Monitor`), without
    importing the kernel layer."""

    run_id: str

    def add_sink(self, sink: Callable[[float, dict[str, float]], None]) -> None: ...

    def add_marker_sink(self, sink: Callable[[dict[str, Any]], None]) -> None: ...

    def add_stop_hook(self, hook: Callable[[], None]) -> None: ...


def attach_live_chart(
    monitor: Monitored, *, fetch_window: WindowFetcher | None = None, display: bool = True
) -> LiveChart:
    """Feed `monitor`'s samples and cell markers to a new live chart, shown now."""
    chart = LiveChart()
    chart.fetch_window = fetch_window
    monitor.add_sink(chart)
    monitor.add_marker_sink(chart.add_marker)
    monitor.add_stop_hook(chart.close)
    if display:
        from IPython.display import display as show

        show(chart.figure)
    return chart
