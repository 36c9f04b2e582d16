"""Threshold breaches and recoveries (F-SM-11) as marks on a run's chart: a
vertical line at the sample time, red for a breach, green for a recovery,
labelled with the key and its value. Kept apart from the chart's own code
(`panels`, `live`, `history`) so that it only adds shapes to a layout."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

BREACH = "rgba(198, 40, 40, 0.85)"
RECOVERY = "rgba(46, 125, 50, 0.85)"


def alert_mark_shapes(
    marks: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(shapes, annotations) for marks as `GET /runs/{id}/alert-marks` gives them."""
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for mark in marks:
        colour = BREACH if mark["kind"] == "breach" else RECOVERY
        x = mark["t"] * 1000
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": colour, "width": 2, "dash": "dot"},
                "name": f"alert-{mark['kind']}",
            }
        )
        sign = "▲" if mark["kind"] == "breach" else "▼"
        labels.append(
            {
                "x": x,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "yanchor": "bottom",
                "text": f"{sign} {mark['key']} {mark['value']:g}",
                "hovertext": mark.get("text", ""),
                "showarrow": False,
                "font": {"size": 10, "color": colour},
            }
        )
    return shapes, labels


def add_alert_marks(figure: go.Figure, marks: Iterable[dict[str, Any]]) -> None:
    """Add the marks to what the figure already shows (cell bands stay)."""
    shapes, labels = alert_mark_shapes(marks)
    if shapes:
        figure.update_layout(
            shapes=[*figure.layout.shapes, *shapes],
            annotations=[*figure.layout.annotations, *labels],
        )
