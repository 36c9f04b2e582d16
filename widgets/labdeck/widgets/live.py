"""The live chart (F-SM-6): panels of Plotly `FigureWidget`s (`panels.ChartView`)
fed one sample at a time.

It is a passive view. The sampler hands it samples through `__call__`,
which only appends to a list under a lock: the sampler thread never waits on
the chart. A drawing thread turns what arrived into ONE batched widget
update a panel at most every `refresh` seconds. Each trace keeps a bounded number
of points: when a trace's buffer doubles past `max_points` it is decimated
with MinMaxLTTB (min/max-preserving), so memory and update cost stay flat
however long the run; the full data is in the database, and a zoom asks the
database for the window at full resolution (beta feature `chart_zoom_refetch`).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import plotly.graph_objects as go

from labdeck.backend.catalogue import describe
from labdeck.backend.downsample import downsample

from .panels import ChartView, TraceSpec, draw_mode, elapsed_axis, series_colour, wall_clock

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
    zooming asks the database for detail.

    Drawn as a `panels.ChartView`: `widget` is what the notebook shows."""

    def __init__(
        self,
        *,
        max_points: int = 500,
        refresh: float = 1.0,
        title: str = "",
        interactive: bool = True,
    ) -> None:
        self.max_points = max_points
        self.refresh = refresh
        self.view = ChartView(title, interactive=interactive)
        self.series: dict[str, _Series] = {}
        self.latest: dict[str, float] = {}
        self.markers = self.view.markers
        self.fetch_window: WindowFetcher | None = None
        self.zoomed = False
        self.updates = 0
        self.stopped = False
        self._pending: list[tuple[float, dict[str, float]]] = []
        self._markers_changed = False
        self._samples = 0
        self._last_t = 0.0
        # Shows the chart again (set by whoever displayed it): see `resync`.
        self.redisplay: Callable[[], None] | None = None
        self._regrid_due = False
        self.view.figure_hooks.append(self._watch)
        self.view.on_resize = self._regrid_soon
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="labdeck-chart", daemon=True)
        self._thread.start()

    @property
    def widget(self) -> Any:
        return self.view.widget

    @property
    def data(self) -> list[Any]:
        """Every trace on every panel."""
        return self.view.data

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

    def highlight_band(self, start_t: float | None) -> None:
        """Emphasise the band of the cell that started at `start_t` (its
        marker's `start_t`, unix seconds); None clears it."""
        with self._lock:
            self.view.highlighted = start_t
            self._markers_changed = True
        if self._stop.is_set():
            # The run stopped and the drawing thread with it: the ledger
            # table's click (on the kernel's thread) draws the band itself.
            self.draw()
        else:
            self._wake.set()

    # -- drawing -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                drew = self.draw()
                if self._regrid_due:
                    self._regrid_due = False
                    self.view.regrid()
            except Exception:
                log.exception("labdeck: the live chart failed to draw; it stops updating")
                return
            if drew:
                # At most one update a `refresh`; until the chart is first
                # drawn, at once (the first full sample comes <= 0.5 s after
                # the baseline, and the person is waiting for it).
                self._stop.wait(self.refresh)

    def draw(self) -> bool:
        """Apply everything that arrived since the last draw in one update a
        panel; False when there was nothing to draw yet."""
        with self._lock:
            pending, self._pending = self._pending, []
            markers_changed, self._markers_changed = self._markers_changed, False
        if not pending and not markers_changed:
            return False
        capacity = 2 * self.max_points
        for t, values in pending:
            if self.view.origin is None:
                self.view.origin = t
            for key, value in values.items():
                series = self.series.get(key)
                if series is None:
                    series = self.series[key] = _Series(capacity)
                series.append(t, value, self.max_points)
            self.latest.update(values)
            self._last_t = max(self._last_t, t)
            self._samples += 1
        if self.view.origin is None:
            return False
        origin = self.view.origin
        long_changed = self.view.set_span(self._last_t - origin)
        changed = {k for _, values in pending for k in values}
        wanted: dict[str, list[str]] = {}
        for key in sorted(self.series, key=lambda k: (describe(k).slot, k)):
            wanted.setdefault(describe(key).panel, []).append(key)
        current = {name: [s.trace_key for s in p.specs] for name, p in self.view.panels.items()}
        if wanted != current:
            if self.view.figure is None and self._samples < 2 and not self._stop.is_set():
                # The baseline alone has no rates: wait for the first full
                # sample (<= 0.5 s) so the chart is built once, not twice.
                return False
            specs = {
                panel: [TraceSpec(k, k, describe(k).label, series_colour(k)) for k in keys]
                for panel, keys in wanted.items()
            }
            self.view.build(specs, {k: self._arrays(k) for ks in wanted.values() for k in ks})
        elif not self.zoomed:
            self._restyle(sorted(changed))
        running = any(m.get("end_t") is None for m in self.markers)
        if markers_changed or running or long_changed:
            axis = None
            if long_changed:
                x_axis = elapsed_axis(self.view.span_s)
                axis = {
                    f"xaxis{p.suffix}.{name}": x_axis[name]
                    for p in self.view.panels.values()
                    for name in ("tickformatstops", "hoverformat")
                }
            self.view.relayout_bands(axis)
        self.view.set_header(self.latest, self._last_t - origin, "stopped" if self.stopped else "")
        self.updates += 1
        return True

    # -- the browser's copy ------------------------------------------------------------------

    def _watch(self, figure: Any) -> None:
        """Observers on each figure the view builds: zooming, when stored
        points can fill a window in."""
        if isinstance(figure, go.FigureWidget) and self.fetch_window is not None:
            figure.layout.on_change(self._on_range, "xaxis.range")

    def _regrid_soon(self) -> None:
        """A view's width changed the grid's columns (a comm message, on the
        kernel's thread): the drawing thread lays the panels out again, or,
        once the run stopped and that thread with it, this one."""
        if self._stop.is_set():
            self.view.regrid()
        else:
            self._regrid_due = True
            self._wake.set()

    def resync(self) -> None:
        """Make the browser's copy of the figure whole, and show it again.

        Plotly's `FigureWidget` is an anywidget: the browser loads its module
        before its model listens for updates, and the updates (new traces,
        layout, data) sent meanwhile are lost, so a chart built while the
        browser is busy can stay an empty frame. The widget's state
        (`_widget_data`, `_widget_layout`) is what a newly created view draws
        from, so the whole figure is sent as that state and the output is
        shown again (`redisplay`), which creates that new view. Done at
        close, so the finished chart (what the saved notebook keeps) is
        complete whatever was lost. Not while the run goes on: a figure is
        opened whole (`panels.whole_figure_widget`) and every later draw
        sends whole arrays, so the next draw repairs a lost one, whereas
        showing the output again redraws the chart under the person's eyes."""
        figure = self.view.figure
        if figure is None or not self.view.interactive:
            return
        figure._widget_data = copy.deepcopy(figure._data)
        figure._widget_layout = copy.deepcopy(figure._layout)
        # The header and the box around the figure: their state once more too.
        self.view.header.send_state()
        self.view.widget.send_state()
        if self.redisplay is not None:
            try:
                self.redisplay()
            except Exception as exc:
                log.warning("labdeck: could not show the live chart again: %s", exc)

    def _arrays(self, key: str) -> tuple[Any, Any, Any]:
        series = self.series[key]
        assert self.view.origin is not None
        t = series.t[: series.n]
        return (t - self.view.origin) * 1000, series.v[: series.n].copy(), wall_clock(t)

    def _restyle(self, keys: list[str]) -> None:
        """Every changed trace in one restyle message. `plotly_restyle` stores
        the arrays as given; setting `trace.x` would run plotly's validators
        on each array, which cost more than everything else in an update.
        Whole arrays every time: a message lost on the way is repaired by
        the next one."""
        indexes = {}
        for panel in self.view.panels.values():
            for spec in panel.specs:
                indexes[spec.trace_key] = panel.index(spec.trace_key)
        keys = [k for k in keys if k in indexes]
        if not keys:
            return
        arrays = [self._arrays(k) for k in keys]
        self.view.restyle(
            {
                "x": [a[0] for a in arrays],
                "y": [a[1] for a in arrays],
                "text": [a[2] for a in arrays],
                "mode": [draw_mode(len(a[1])) for a in arrays],
            },
            trace_indexes=[indexes[k] for k in keys],
        )

    # -- zoom ----------------------------------------------------------------------------------

    def _on_range(self, layout: Any, x_range: Any) -> None:
        if self.fetch_window is None or self.view.origin is None:
            return
        if not x_range or x_range[0] is None:
            self.zoomed = False
            return
        start, end = (self.view.origin + _as_seconds(v) for v in x_range)
        threading.Thread(target=self._load_window, args=(start, end), daemon=True).start()

    def _load_window(self, start: float, end: float) -> None:
        assert self.fetch_window is not None
        try:
            window = self.fetch_window(start, end, self.max_points)
        except Exception as exc:
            log.warning("labdeck: could not load the zoomed window: %s", exc)
            return
        self.zoomed = True
        origin = self.view.origin or 0.0
        keys, indexes = [], []
        for panel in list(self.view.panels.values()):
            for spec in panel.specs:
                if spec.trace_key in window["series"]:
                    keys.append(spec.trace_key)
                    indexes.append(panel.index(spec.trace_key))
        if not keys:
            return
        ts = [np.asarray(window["series"][k]["t"], dtype=float) for k in keys]
        self.view.restyle(
            {
                "x": [(t - origin) * 1000 for t in ts],
                "y": [np.asarray(window["series"][k]["v"], dtype=float) for k in keys],
                "text": [wall_clock(t) for t in ts],
            },
            trace_indexes=indexes,
        )

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.stopped = True
        with self._lock:
            self._markers_changed = True
        self.draw()
        if self.updates:
            self.resync()


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

        handle = show(chart.widget, display_id=True)
        if handle is not None:
            chart.redisplay = lambda: handle.update(chart.widget)
    return chart
