"""The chart's look, shared by the live chart and stored-run charts (issue 13).

A chart is a header line of current values over a grid of panels that
fills the notebook's width (`ChartView`): one panel per metric group and
unit (`catalogue.describe`), so an axis never mixes units and process
quantities never share an axis with system ones. The x-axis is the time
elapsed since the run started (`0:05`, `1:30:00`), shared by every panel
(a zoom zooms them all); hovering shows the values, the wall-clock time
and the raw keys. Each panel has its legend with the catalogue's names
(`CPU (process)`, `RSS`, `GPU 0 memory`), each series keeps one colour on
every chart and run, and cell markers are bands with labels that never
overlap (truncated; the full source on hover).

How the figure reaches the browser (the blank-chart lesson): the figure's
structure (traces, axes, legends) is complete when it is built, and its
widget is opened only then (`whole_figure_widget`), so its first message
to the browser holds all of it; a change of structure (a new series)
builds a new figure in the old one's place. Afterwards only whole arrays
are sent (`plotly_restyle`; bands by `plotly_relayout`), so an update that
the browser dropped is repaired by the next one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labdeck.backend.catalogue import MetricInfo, describe

PANEL_HEIGHT = 290
"""Pixels a grid row takes: labels and title above, ticks and legend below."""
PANEL_TOP_PX = 70
PANEL_BOTTOM_PX = 72
LEGEND_BELOW_PX = 26
MIN_PANEL_PX = 420
"""Panels are at least this wide: the grid holds as many columns as fit."""
UNSIZED_PX = 700
"""The width Plotly.js gives a figure whose container has none yet (its
`layout.width` default): a view drawn before its cell was laid out."""
UNSIZED_RETRIES = 3
"""Times a figure drawn unsized is asked to size itself to its cell."""
LABEL_FONT_PX = 10
CHAR_PX = 6.0
"""About the width of one character of a band label, for fitting labels."""
LABEL_ROWS = 3
ROW_PX = 14
# Plotly's and D3's qualitative palettes, 20 distinct colours.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#17becf",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#e7969c",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
)
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
DASHES = ("solid", "dash", "dot", "dashdot")
BAND_COLOURS = ("rgba(99,110,250,0.10)", "rgba(0,204,150,0.10)")
ERROR_BAND = "rgba(239,85,59,0.18)"
HIGHLIGHT_BAND = "rgba(255,193,7,0.35)"
MARKERS_BELOW = 10
"""A series with fewer points than this is drawn with markers as well, so a
single point (a short run) is visible."""

_ELAPSED = re.compile(r"\A(\d+:)?\d{1,2}:\d{2}(\.\d+)?\Z")


def series_colour(key: str) -> str:
    """The colour of `key`'s series, the same on every chart and run."""
    return PALETTE[describe(key).slot % len(PALETTE)]


def run_colour(index: int) -> str:
    """Comparisons colour by run: the index of the run in the list."""
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def is_elapsed(text: str) -> bool:
    """Whether a tick label reads as an elapsed time (`0:05`, `1:30:00`)."""
    return bool(_ELAPSED.match(text.strip()))


def format_elapsed(seconds: float) -> str:
    """`0:05`, `12:30`, `1:30:00`: how the x-axis reads."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed_axis(span_s: float) -> dict[str, Any]:
    """The x-axis: elapsed milliseconds drawn as a date axis from the epoch,
    with formats that read as durations. A run past an hour shows hours on
    every tick, so a zoom into its second hour never reads `5:00`."""
    long_run = span_s >= 3600
    minutes = "%-H:%M:%S" if long_run else "%-M:%S"
    return {
        "type": "date",
        "title": {"text": None},
        "tickformatstops": [
            {"dtickrange": [None, 999], "value": minutes + ".%L"},
            {"dtickrange": [1000, 3_600_000], "value": minutes},
            {"dtickrange": [3_600_000, None], "value": "%-H:%M:%S"},
        ],
        "hoverformat": "%-H:%M:%S.%L" if long_run else "%-M:%S.%L",
        "showgrid": True,
        "automargin": True,
    }


def wall_clock(t: np.ndarray) -> list[str]:
    """`HH:MM:SS` in the kernel's local time for unix seconds `t` (hover text)."""
    if not len(t):
        return []
    offset = time.localtime(float(t[-1])).tm_gmtoff
    stamps = ((np.asarray(t, dtype=float) + offset) * 1000).astype("datetime64[ms]")
    return [s[11:19] for s in np.datetime_as_string(stamps, unit="s")]


def format_value(value: float, unit: str) -> str:
    """A current value for the header line."""
    if unit == "percent":
        return f"{value:.0f}%"
    if unit == "bytes":
        for size, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} B"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:.4g} {unit}".strip()


@dataclass
class TraceSpec:
    """One series on a panel: the metric it draws and how it looks."""

    trace_key: str
    metric: str
    name: str
    colour: str
    dash: str = "solid"
    group: str | None = None
    """Legend group (a run, when runs are compared)."""

    @property
    def info(self) -> MetricInfo:
        return describe(self.metric)

    def trace(self, x: Any, y: Any, text: Any) -> dict[str, Any]:
        info = self.info
        unit = "%" if info.unit == "percent" else info.unit
        return {
            "type": "scatter",
            "x": x,
            "y": y,
            "text": text,
            "mode": draw_mode(len(y)),
            "name": self.name,
            "legendgroup": self.group,
            "meta": self.metric,
            "line": {"color": self.colour, "dash": self.dash, "width": 1.8},
            "marker": {"color": self.colour, "size": 6},
            "hovertemplate": (
                f"{_escape(self.name)}: %{{y:.4~g}} {unit}"
                " <span style='color:#888'>at %{text} · %{meta}</span><extra></extra>"
            ),
        }


def draw_mode(points: int) -> str:
    return "lines+markers" if points < MARKERS_BELOW else "lines"


def _escape(text: str) -> str:
    return text.replace("%{", "%\u200b{").replace("<", "&lt;")


@dataclass
class Panel:
    """One panel of the grid: its title (group and unit), its series in
    order, and its axes (`x3`/`y3` for the third)."""

    name: str
    specs: list[TraceSpec] = field(default_factory=list)
    number: int = 1
    first_trace: int = 0

    @property
    def suffix(self) -> str:
        return "" if self.number == 1 else str(self.number)

    def index(self, trace_key: str) -> int:
        """The figure's index of a trace of this panel."""
        offset = next(i for i, s in enumerate(self.specs) if s.trace_key == trace_key)
        return self.first_trace + offset


def y_axis(panel: str) -> dict[str, Any]:
    unit = panel[panel.rfind("(") + 1 : -1] if panel.endswith(")") else ""
    axis: dict[str, Any] = {"automargin": False, "rangemode": "tozero", "showgrid": True}
    if unit == "percent":
        axis["ticksuffix"] = "%"
    elif unit == "bytes":
        axis["tickformat"] = "~s"
        axis["ticksuffix"] = "B"
    elif unit and unit != "count":
        axis["ticksuffix"] = f" {unit}"
    return axis


def panel_order(panels: Iterable[str]) -> list[str]:
    """Process quantities first (what the cell did), then the system's."""
    first = ("CPU (", "CPU time", "Process memory", "GPU", "Threads")
    return sorted(panels, key=lambda p: (not p.startswith(first), p))


def columns_for(count: int, width_px: float | None = None) -> int:
    """As many columns of at least `MIN_PANEL_PX` as the view's width holds,
    never more than there are panels; two until a view has said its width."""
    if count <= 1:
        return 1
    if width_px is None:
        return 2
    return max(1, min(count, int(width_px // MIN_PANEL_PX)))


class ChartView:
    """A header line of current values over a grid of panels, in ONE Plotly
    figure: each Plotly widget carries Plotly's whole module (megabytes) to
    the browser, which gives a widget 2 s to start, so a widget a panel
    fails to show on a busy machine.

    `widget` is what a notebook displays (`ipywidgets.VBox` of the header
    and the figure); with `interactive=False` the figure is a plain
    `go.Figure` (a test or a static export) and there is no widget.

    The grid follows the width the browser gives the figure (a responsive
    grid): each view of the figure reports its laid-out width as it draws
    and whenever it answers a change of the figure, a resize of the browser
    window among them (`width_px`); when that changes the number of columns
    the figure is rebuilt with its current traces (`regrid`), through
    `on_resize` when the view's owner draws on a thread of its own.
    `figure_hooks` are called with every figure built, for its owner's
    observers.
    """

    def __init__(self, title: str = "", *, interactive: bool = True) -> None:
        self.interactive = interactive
        self.title = title
        self.panels: dict[str, Panel] = {}
        self.markers: list[dict[str, Any]] = []
        self.alert_marks: list[dict[str, Any]] = []
        self.highlighted: float | None = None
        self.origin: float | None = None
        self.span_s = 1.0
        self._long = False
        self.figure: Any = None
        self.widget: Any = None
        self.width_px: float | None = None
        self._width_edit: Any = None
        self._widest = 0.0
        self._resizes = 0
        self.figure_hooks: list[Callable[[Any], None]] = []
        self.on_resize: Callable[[], None] | None = None
        self.header: Any = None
        self._parts: list[Any] = []
        if interactive:
            import ipywidgets as w

            self.header = w.HTML(value="", layout=w.Layout(margin="0 0 0 8px"))
            if title:
                self._parts = [w.HTML(value=f"<b>{_escape(title)}</b>")]
            self.widget = w.VBox([*self._parts, self.header], layout=w.Layout(width="100%"))

    # -- structure -------------------------------------------------------------------------

    @property
    def figures(self) -> list[Any]:
        return [self.figure] if self.figure is not None else []

    @property
    def data(self) -> list[Any]:
        """Every trace of every panel (what tests and callers inspect)."""
        return list(self.figure.data) if self.figure is not None else []

    def panel_traces(self) -> dict[str, list[Any]]:
        """Each panel's traces, by panel title."""
        data = self.data
        return {
            name: data[p.first_trace : p.first_trace + len(p.specs)]
            for name, p in self.panels.items()
        }

    def build(
        self,
        specs: Mapping[str, Sequence[TraceSpec]],
        arrays: dict[str, tuple[Any, Any, Any]],
    ) -> Any:
        """(Re)build the figure with every panel's `specs` and their data,
        complete, and show it in place of the last one."""
        self.panels = {}
        traces: list[dict[str, Any]] = []
        for number, name in enumerate(panel_order(specs), start=1):
            panel = Panel(name, list(specs[name]), number, len(traces))
            self.panels[name] = panel
            for spec in panel.specs:
                trace = spec.trace(*arrays.get(spec.trace_key, ([], [], [])))
                trace["xaxis"], trace["yaxis"] = f"x{panel.suffix}", f"y{panel.suffix}"
                trace["legend"] = f"legend{panel.suffix}"
                traces.append(trace)
        return self._show(traces)

    def regrid(self) -> None:
        """Lay the panels out again for the current width: a new figure with
        the current traces (their data as last drawn) in place of the old."""
        if self.figure is not None:
            self._show([trace.to_plotly_json() for trace in self.figure.data])

    def _show(self, traces: list[dict[str, Any]]) -> Any:
        import plotly.graph_objects as go

        layout = self.grid_layout()
        shapes, labels = self.band_layout()
        layout["shapes"], layout["annotations"] = shapes, [*self.titles(), *labels]
        cls = whole_figure_widget() if self.interactive else go.Figure
        self.figure = cls(
            data=traces, layout=layout, **({"_validate": False} if self.interactive else {})
        )
        if self.interactive:
            self._width_edit = None  # a new figure counts its edits afresh
            self._resizes = 0
            self.figure.observe(self._on_layout_delta, names="_js2py_widget_layoutDelta")
        for hook in self.figure_hooks:
            hook(self.figure)
        if self.widget is not None:
            self.widget.children = (*self._parts, self.header, self.figure)
        return self.figure

    def _on_layout_delta(self, change: Any) -> None:
        """A view of the figure drew, or echoed a relayout (every view does,
        each time; a window's resize is one): its full layout, width
        included. The grid follows the widest view that answered the latest
        edit (`layout_edit_id`), so two views of one notebook do not flip it
        between their widths at every draw; Plotly's width for a container
        not laid out yet (`UNSIZED_PX`) is not a width."""
        if change.get("owner") is not self.figure:
            return  # a figure replaced since
        message = change.get("new") or {}
        width = (message.get("layout_delta") or {}).get("width")
        if not isinstance(width, (int, float)) or width <= 0:
            return
        if width == UNSIZED_PX:
            # Drawn before JupyterLab laid the cell out (a chart built while
            # its cell is scrolled away): Plotly keeps that width until the
            # window is resized. Asked again, it sizes the figure to its cell.
            if self._resizes < UNSIZED_RETRIES:
                self._resizes += 1
                self.figure.autosize()
            return
        edit = message.get("layout_edit_id")
        if edit != self._width_edit:
            self._width_edit, self._widest = edit, float(width)
        else:
            self._widest = max(self._widest, float(width))
        count = len(self.panels)
        before = columns_for(count, self.width_px)
        self.width_px = self._widest
        if columns_for(count, self.width_px) != before:
            (self.on_resize or self.regrid)()

    def _geometry(self) -> tuple[int, int, float]:
        count = max(1, len(self.panels))
        columns = columns_for(count, self.width_px)
        rows = -(-count // columns)
        return columns, rows, float(rows * PANEL_HEIGHT)

    def _domains(self, panel: Panel) -> tuple[list[float], list[float]]:
        columns, _, height = self._geometry()
        row, column = divmod(panel.number - 1, columns)
        gap = 0.07 if columns > 1 else 0.0
        width = (1.0 - gap * (columns - 1)) / columns
        x0 = column * (width + gap)
        top = row * PANEL_HEIGHT + PANEL_TOP_PX
        bottom = (row + 1) * PANEL_HEIGHT - PANEL_BOTTOM_PX
        return [x0, x0 + width], [1 - bottom / height, 1 - top / height]

    def grid_layout(self) -> dict[str, Any]:
        _, _, height = self._geometry()
        layout: dict[str, Any] = {
            "height": height + 20,
            "autosize": True,
            "margin": {"l": 60, "r": 20, "t": 10, "b": 10},
            "hovermode": "x unified",
            "showlegend": True,
        }
        for panel in self.panels.values():
            x_domain, y_domain = self._domains(panel)
            suffix = panel.suffix
            x_axis = elapsed_axis(self.span_s)
            x_axis.update({"domain": x_domain, "anchor": f"y{suffix}", "automargin": False})
            if panel.number > 1:
                x_axis["matches"] = "x"
            layout[f"xaxis{suffix}"] = x_axis
            layout[f"yaxis{suffix}"] = {
                **y_axis(panel.name),
                "domain": y_domain,
                "anchor": f"x{suffix}",
            }
            layout[f"legend{suffix}"] = {
                "orientation": "h",
                "x": x_domain[0],
                "xanchor": "left",
                "y": y_domain[0] - LEGEND_BELOW_PX / height,
                "yanchor": "top",
                "font": {"size": 10},
                "bgcolor": "rgba(255,255,255,0)",
            }
        return layout

    def titles(self) -> list[dict[str, Any]]:
        _, _, height = self._geometry()
        found = []
        for panel in self.panels.values():
            x_domain, y_domain = self._domains(panel)
            found.append(
                {
                    "text": f"<b>{_escape(panel.name)}</b>",
                    "xref": "paper",
                    "yref": "paper",
                    "x": x_domain[0],
                    "y": y_domain[1] + (LABEL_ROWS * ROW_PX + 4) / height,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 12},
                    "name": "panel-title",
                }
            )
        return found

    # -- header --------------------------------------------------------------------------------

    def set_header(self, latest: dict[str, float], elapsed: float, state: str = "") -> str:
        parts = []
        for key in sorted(latest, key=lambda k: (describe(k).slot, k)):
            info = describe(key)
            if info.headline:
                parts.append(f"{_escape(info.label)} <b>{format_value(latest[key], info.unit)}</b>")
        text = " &nbsp;·&nbsp; ".join(parts)
        when = f"elapsed <b>{format_elapsed(elapsed)}</b>" + (f" ({state})" if state else "")
        value = f"<span style='font-size:12px'>{when} &nbsp;·&nbsp; {text}</span>"
        if self.header is not None and self.header.value != value:
            self.header.value = value
        return value

    # -- bands ---------------------------------------------------------------------------------

    def set_span(self, span_s: float) -> bool:
        """The run's length so far; True when the x-axis format must change."""
        self.span_s = max(span_s, 1.0)
        long_run = self.span_s >= 3600
        changed, self._long = long_run != self._long, long_run
        return changed

    def band_layout(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every panel's bands and labels (and alert marks), on its own axes."""
        if self.origin is None or not self.panels:
            return [], []
        columns, _, _ = self._geometry()
        now = self.origin + self.span_s
        if self.width_px is not None:
            width_px = self.width_px / columns - 80
        else:
            width_px = (MIN_PANEL_PX if columns > 1 else 2 * MIN_PANEL_PX) - 80
        shapes, labels, _ = band_shapes(self.markers, self.origin, now, width_px, self.highlighted)
        from .alert_marks import alert_mark_shapes

        marks = [{**m, "t": m["t"] - self.origin} for m in self.alert_marks]
        more_shapes, more_labels = alert_mark_shapes(marks)
        all_shapes: list[dict[str, Any]] = []
        all_labels: list[dict[str, Any]] = []
        for panel in self.panels.values():
            suffix = panel.suffix
            for shape in [*shapes, *more_shapes]:
                all_shapes.append({**shape, "xref": f"x{suffix}", "yref": f"y{suffix} domain"})
            for label in [*labels, *more_labels]:
                all_labels.append({**label, "xref": f"x{suffix}", "yref": f"y{suffix} domain"})
        return all_shapes, all_labels

    def relayout_bands(self, extra: dict[str, Any] | None = None) -> None:
        if self.figure is None:
            return
        shapes, labels = self.band_layout()
        update: dict[str, Any] = {"shapes": shapes, "annotations": [*self.titles(), *labels]}
        update.update(extra or {})
        if self.interactive:
            self.figure.plotly_relayout(update)
        else:
            self.figure.update_layout(update)

    def restyle(self, data: dict[str, Any], trace_indexes: list[int]) -> None:
        """New arrays for some traces, keeping the x-axes dates. Plotly.js
        forgets an axis's type when a trace's `x` changes (`restyle` clears
        it, and the elapsed milliseconds are then typed `linear`: ticks read
        `2000`, not `0:02`) unless the same `Plotly.update` names the type;
        so the arrays go with every x-axis's type, in one message."""
        if not self.interactive:
            self.figure.plotly_restyle(data, trace_indexes=trace_indexes)
            return
        types = {f"xaxis{p.suffix}.type": "date" for p in self.panels.values()}
        self.figure.restyle_with(data, trace_indexes, types)

    def highlight_band(self, start_t: float | None) -> None:
        """Emphasise the band of the cell that started at `start_t` (unix
        seconds, as in its marker); None clears it."""
        self.highlighted = start_t
        self.relayout_bands()


_WHOLE: type | None = None


def whole_figure_widget() -> type:
    """`go.FigureWidget` whose widget opens (its comm) once its whole state is
    set. Plotly's own opens it inside its constructor with no traces and no
    layout, then sends them as an update; a browser that has not made the
    widget's model yet (it loads Plotly's module first) drops that update,
    and every view of the figure is blank. Opened last, the figure's first
    message holds all of it."""
    global _WHOLE
    if _WHOLE is None:
        import plotly.graph_objects as go
        from plotly.serializers import custom_serializers
        from traitlets import Dict

        class WholeFigureWidget(go.FigureWidget):
            # Plotly's view reports its full layout (its width among it) under
            # this name after it draws and after each relayout; Plotly's
            # Python side listens under another name (`_js2py_layoutDelta`)
            # and never hears it.
            _js2py_widget_layoutDelta = Dict(allow_none=True).tag(sync=True, **custom_serializers)

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                # Plotly.js follows the window's resizes (`responsive`); each
                # is a relayout the view reports to the kernel, whose echo
                # makes the view report its full layout (above), new width too.
                config: dict[str, Any] = self._config  # type: ignore[has-type]
                self._config = {**config, "responsive": True}
                self._labdeck_built = True
                self.open()

            def open(self) -> None:
                if getattr(self, "_labdeck_built", False):
                    super().open()

            def autosize(self) -> None:
                """Size every view to its container (`Plotly.relayout` of
                `autosize`, what a window's resize does). Sent as is: Plotly's
                `plotly_relayout` leaves out `autosize`, already true here."""
                self._send_relayout_msg({"autosize": True})

            def restyle_with(
                self,
                restyle: dict[str, Any],
                trace_indexes: list[int],
                relayout: dict[str, Any],
            ) -> None:
                """`plotly_restyle`, sent as one `Plotly.update` with `relayout`
                as is: Plotly's own `plotly_update` leaves out of the message
                every layout property the Python side holds already."""
                indexes = self._normalize_trace_indexes(trace_indexes)
                changes = self._perform_plotly_restyle(restyle, indexes)
                if changes:
                    self._send_update_msg(changes, relayout, trace_indexes=indexes)
                    self._dispatch_trace_change_callbacks(changes, indexes)

        _WHOLE = WholeFigureWidget
    return _WHOLE


def band_shapes(
    markers: Iterable[dict[str, Any]],
    origin: float,
    now: float,
    width_px: float = MIN_PANEL_PX - 80,
    highlighted: float | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Bands and labels of cell markers on an elapsed-time axis starting at
    `origin` (unix seconds); a cell still running is drawn up to `now`.

    Labels never overlap on a panel `width_px` wide: each is `[n] first line`
    cut to the room before the next label of its row (`…`), put on the
    first of `LABEL_ROWS` rows where `[n]` fits, or left out; the full
    source shows on hover. Returns (shapes, labels, rows used)."""
    ordered = sorted(markers, key=lambda m: m["start_t"])
    span = max(now - origin, 1e-3)
    px_per_s = width_px / span
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    row_end = [-1e9] * LABEL_ROWS
    starts = [(m["start_t"] - origin) * px_per_s for m in ordered]
    used = 1
    for index, marker in enumerate(ordered):
        start = marker["start_t"]
        end = marker.get("end_t") or now
        is_highlighted = highlighted is not None and abs(start - highlighted) < 1e-6
        colour = (
            HIGHLIGHT_BAND
            if is_highlighted
            else ERROR_BAND
            if marker.get("error")
            else BAND_COLOURS[index % 2]
        )
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": (start - origin) * 1000,
                "x1": (max(end, start) - origin) * 1000,
                "y0": 0,
                "y1": 1,
                "fillcolor": colour,
                "line": {"width": 1.5 if is_highlighted else 0, "color": "rgba(204,140,0,0.9)"},
                "layer": "below",
                "name": f"cell {marker.get('execution_count')}",
            }
        )
        count = marker.get("execution_count")
        head = f"[{count}]" if count is not None else ""
        line = marker.get("first_line") or ""
        x_px = starts[index]
        last = max(width_px, x_px + CHAR_PX * 12)
        limit = min(starts[index + 1], last) if index + 1 < len(starts) else last
        for row in range(LABEL_ROWS):
            if x_px < row_end[row] + CHAR_PX:
                continue
            # Row 0 ends where the next band begins; other rows are free
            # until a later label takes them.
            room = (limit if row == 0 else last) - x_px - CHAR_PX
            chars = int(room / CHAR_PX)
            if chars < len(head):
                continue
            text = _fit(head, line, chars)
            row_end[row] = x_px + len(text) * CHAR_PX
            used = max(used, row + 1)
            source = marker.get("source") or line
            labels.append(
                {
                    "x": (start - origin) * 1000,
                    "xref": "x",
                    "y": 1,
                    "yref": "paper",
                    "yshift": row * ROW_PX,
                    "text": _escape(text),
                    "hovertext": _escape(f"{head} {source}".strip()).replace("\n", "<br>"),
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "font": {"size": LABEL_FONT_PX},
                    "name": f"cell {count}",
                }
            )
            break
    return shapes, labels, used


def _fit(head: str, line: str, chars: int) -> str:
    """`[n] first line` in at most `chars` characters; `[n]` is never cut."""
    text = f"{head} {line}".strip()
    if len(text) <= chars:
        return text
    if chars < len(head) + 3:
        return head
    return text[: chars - 1].rstrip() + "…"
