"""Panel layout shared by the live chart and stored-run charts: one stacked
panel per metric group and unit (`catalogue.describe`), a shared time axis,
and cell markers drawn as labelled bands.

It works on a plain Plotly figure (live `FigureWidget` or static `Figure`):
panels are y-axes whose domains are recomputed when a panel is added, so a
key that appears late (a slow collector) still gets its own panel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go

from labdeck.backend.catalogue import describe

PANEL_HEIGHT = 190
GAP = 0.04
BAND_COLOURS = ("rgba(99,110,250,0.12)", "rgba(0,204,150,0.12)")
ERROR_BAND = "rgba(239,85,59,0.18)"


class Panels:
    def __init__(self, figure: go.Figure, title: str = "") -> None:
        self.figure = figure
        self.order: list[str] = []
        self.traces: dict[str, int] = {}
        figure.update_layout(
            title=title or None,
            showlegend=True,
            legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
            margin={"l": 70, "r": 20, "t": 40 if title else 20, "b": 40},
            hovermode="x unified",
            xaxis={"type": "date", "title": None},
        )

    def _axis_suffix(self, index: int) -> str:
        return "" if index == 0 else str(index + 1)

    def _relayout(self) -> None:
        count = max(1, len(self.order))
        height = (1.0 - GAP * (count - 1)) / count
        updates: dict[str, Any] = {"height": max(260, PANEL_HEIGHT * count + 60)}
        for index, panel in enumerate(self.order):
            top = 1.0 - index * (height + GAP)
            suffix = self._axis_suffix(index)
            unit = panel[panel.rfind("(") + 1 : -1] if panel.endswith(")") else ""
            updates[f"yaxis{suffix}"] = {
                "domain": [max(0.0, top - height), top],
                "title": {
                    "text": f"{panel[: panel.rfind(' (')] if unit else panel}<br>{unit}",
                    "font": {"size": 11},
                },
                "automargin": True,
                "anchor": f"x{suffix}",
            }
            updates[f"xaxis{suffix}"] = {
                "type": "date",
                "anchor": f"y{suffix}",
                "matches": "x" if index else None,
                "showticklabels": index == count - 1,
            }
        self.figure.update_layout(updates)

    def trace_for(self, key: str, label: str | None = None) -> int:
        """The index of `key`'s trace, adding its panel and trace on first sight."""
        return self.trace_for_key(key, key, label)

    def trace_for_key(self, trace_key: str, metric: str, label: str | None = None) -> int:
        """Like `trace_for`, for a trace named apart from its metric (one
        trace per run when runs are overlaid)."""
        key = trace_key
        if key in self.traces:
            return self.traces[key]
        panel = describe(metric).panel
        self.add_panels([panel])
        suffix = self._axis_suffix(self.order.index(panel))
        self.figure.add_scatter(
            x=[], y=[], mode="lines", name=label or key, xaxis=f"x{suffix}", yaxis=f"y{suffix}"
        )
        self.traces[key] = len(self.figure.data) - 1
        return self.traces[key]

    def add_panels(self, panels: Iterable[str]) -> None:
        """Add the panels not there yet, laying the figure out once."""
        new = [p for p in dict.fromkeys(panels) if p not in self.order]
        if new:
            self.order.extend(new)
            self._relayout()

    def ensure(self, keys: Iterable[str]) -> bool:
        """Add traces for new keys; True when any was added."""
        new = sorted(k for k in keys if k not in self.traces)
        self.add_panels(describe(k).panel for k in new)
        for key in new:
            self.trace_for(key)
        return bool(new)


def marker_shapes(
    markers: Iterable[dict[str, Any]], now: float | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Bands and labels for cell markers (times in unix seconds). A cell still
    running is drawn up to `now`."""
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for index, marker in enumerate(markers):
        start = marker["start_t"]
        end = marker.get("end_t") or now or start
        colour = ERROR_BAND if marker.get("error") else BAND_COLOURS[index % 2]
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": start * 1000,
                "x1": max(end, start) * 1000,
                "y0": 0,
                "y1": 1,
                "fillcolor": colour,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        count = marker.get("execution_count")
        line = (marker.get("first_line") or "")[:40]
        labels.append(
            {
                "x": start * 1000,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "text": f"[{count}] {line}" if count is not None else line,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 10},
                "textangle": 0,
            }
        )
    return shapes, labels
