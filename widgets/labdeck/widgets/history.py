"""Stored runs in the notebook: `labdeck.runs()` lists them, `labdeck.chart()`
draws one run, or several overlaid for comparison, with the live chart's
panels and cell markers. Both read through the process's client
(`labdeck.client.mode`): the database, or the team's service over REST."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from labdeck.client import mode
from labdeck.client.base import Client

if TYPE_CHECKING:
    from labdeck.backend.context import Backend

    from .panels import ChartView

DEFAULT_POINTS = 2000
_COLUMNS = ("id", "name", "state", "created_by", "created_at", "ended_at")


def notebook_client(backend: Backend | None = None) -> Client:
    """The process's client, acting as the kernel's user (F-ID-1); a direct
    one on `backend` when a caller gives its own."""
    return mode.for_backend(backend) if backend is not None else mode.client()


class RunTable:
    """A list of runs that renders as a table in a notebook."""

    def __init__(self, project: str, rows: list[dict[str, Any]]) -> None:
        self.project = project
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(r.get(c) or ''))}</td>" for c in _COLUMNS)
            + "</tr>"
            for r in self.rows
        )
        return (
            f"<b>{html.escape(self.project)}</b> — {len(self.rows)} runs"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __repr__(self) -> str:
        lines = [f"{self.project}: {len(self.rows)} runs"]
        lines += [" ".join(str(r.get(c) or "-") for c in _COLUMNS[:4]) for r in self.rows]
        return "\n".join(lines)


def runs(project: str, *, limit: int = 100, backend: Backend | None = None) -> RunTable:
    """The newest runs of `project` ("name" for your own, "entity/name")."""
    client = notebook_client(backend)
    if "/" in project:
        entity, _, name = project.partition("/")
    else:
        entity, name = client.profile()["username"], project
    page = client.list_runs(entity, name, limit=limit)
    from .ledger import StoredRun  # each row also answers `.cells()` (F-SM-12)

    return RunTable(f"{entity}/{name}", [StoredRun(row, client) for row in page["items"]])


class StoredChart:
    """One stored run, or several aligned at their start, drawn as a
    `panels.ChartView`; displays as that view's widget."""

    def __init__(self, view: ChartView) -> None:
        self.view = view

    @property
    def widget(self) -> Any:
        return self.view.widget

    @property
    def data(self) -> list[Any]:
        """Every trace on every panel."""
        return self.view.data

    @property
    def figures(self) -> list[Any]:
        return self.view.figures

    def highlight_band(self, start_t: float | None) -> None:
        """Emphasise the band of the cell that started at `start_t` (its
        marker's `start_t`, unix seconds); None clears it."""
        self.view.highlight_band(start_t)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.view.widget is None:
            return None
        return self.view.widget._repr_mimebundle_(**kwargs)


def chart(
    run_ids: str | Sequence[str],
    *,
    keys: Sequence[str] | None = None,
    max_points: int = DEFAULT_POINTS,
    backend: Backend | None = None,
    interactive: bool = True,
) -> StoredChart:
    """Draw stored runs. With several, each starts at 0 on the time axis,
    each run has its colour, and the legend names the run."""
    # Plotly and numpy load here, not with `labdeck.runs()`.
    import numpy as np

    from labdeck.backend.catalogue import describe

    from .panels import DASHES, ChartView, TraceSpec, run_colour, series_colour, wall_clock

    client = notebook_client(backend)
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    compare = len(ids) > 1
    runs = [client.get_run(run_id) for run_id in ids]
    names = [r.get("name") or r["id"] for r in runs]
    if compare and len(set(names)) < len(names):
        names = [f"{name} ({r['id'][:8]})" for name, r in zip(names, runs, strict=True)]
    view = ChartView(" vs ".join(names) if compare else names[0], interactive=interactive)
    specs: dict[str, list[TraceSpec]] = {}
    arrays: dict[str, tuple[Any, Any, Any]] = {}
    span = 1.0
    for index, run_id in enumerate(ids):
        data = client.read_series(run_id, keys=list(keys) if keys else None, max_points=max_points)
        series = data["series"]
        starts = [s["t"][0] for s in series.values() if len(s["t"])]
        # Each run starts at 0: its first sample (the baseline taken at start).
        origin = min(starts) if starts else 0.0
        if index == 0:
            view.origin = origin
        for key in sorted(series, key=lambda k: (describe(k).slot, k)):
            info = describe(key)
            panel = specs.setdefault(info.panel, [])
            if compare:
                dash = DASHES[sum(1 for s in panel if s.group == names[index]) % len(DASHES)]
                spec = TraceSpec(
                    f"{run_id}:{key}",
                    key,
                    f"{names[index]} · {info.label}",
                    run_colour(index),
                    dash,
                    group=names[index],
                )
            else:
                spec = TraceSpec(key, key, info.label, series_colour(key))
            panel.append(spec)
            t = np.asarray(series[key]["t"], dtype=float)
            arrays[spec.trace_key] = (
                (t - origin) * 1000,
                np.asarray(series[key]["v"], dtype=float),
                wall_clock(t),
            )
            if len(t):
                span = max(span, float(t[-1] - origin))
        if not compare:
            view.markers.extend(client.list_markers(run_id))
            view.alert_marks.extend(client.list_alert_marks(run_id))
    view.set_span(span)
    view.build(specs, arrays)
    if not compare and view.origin is not None:
        latest = {key: arrays[key][1][-1] for key in arrays if len(arrays[key][1])}
        view.set_header(latest, span, str(runs[0].get("state") or ""))
    return StoredChart(view)
