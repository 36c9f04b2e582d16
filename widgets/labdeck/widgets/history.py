"""Stored runs in the notebook: `labdeck.runs()` lists them, `labdeck.chart()`
draws one run, or several overlaid for comparison, from the database with
the live chart's panels and cell markers."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from labdeck.backend.catalogue import describe
from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import identity, markers, metrics
from labdeck.backend.services import runs as run_service

from .panels import Panels, marker_shapes

DEFAULT_POINTS = 2000
_COLUMNS = ("id", "name", "state", "created_by", "created_at", "ended_at")


def notebook_identity(backend: Backend | None = None) -> tuple[Backend, Actor]:
    """The backend and the kernel's user (F-ID-1), without the kernel layer."""
    backend = backend or Backend.open()
    return backend, identity.process_actor(backend)


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
    backend, actor = notebook_identity(backend)
    if "/" in project:
        entity, _, name = project.partition("/")
    else:
        from labdeck.backend.services import profile

        entity, name = profile.get_profile(backend, actor)["username"], project
    page = run_service.list_runs(backend, actor, entity, name, limit=limit)
    return RunTable(f"{entity}/{name}", page["items"])


def chart(
    run_ids: str | Sequence[str],
    *,
    keys: Sequence[str] | None = None,
    max_points: int = DEFAULT_POINTS,
    backend: Backend | None = None,
) -> go.FigureWidget:
    """Draw stored runs; with several, each key's panel overlays the runs."""
    backend, actor = notebook_identity(backend)
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    figure = go.FigureWidget()
    panels = Panels(figure, title=", ".join(ids))
    all_markers: list[dict[str, Any]] = []
    for run_id in ids:
        run = run_service.get_run(backend, actor, run_id)
        data = metrics.read_series(
            backend, actor, run_id, keys=list(keys) if keys else None, max_points=max_points
        )
        label = run["name"] if len(ids) > 1 else None
        indexes, xs, ys = [], [], []
        panels.add_panels(describe(key).panel for key in sorted(data["series"]))
        with figure.batch_update():
            for key in sorted(data["series"]):
                series = data["series"][key]
                trace_key = f"{run_id}:{key}" if len(ids) > 1 else key
                indexes.append(
                    panels.trace_for_key(trace_key, key, f"{label} · {key}" if label else key)
                )
                xs.append(np.asarray(series["t"], dtype=float) * 1000)
                ys.append(np.asarray(series["v"], dtype=float))
        # One restyle for all traces: plotly stores the arrays without running
        # its per-array validators (see live.LiveChart._restyle).
        if indexes:
            figure.plotly_restyle({"x": xs, "y": ys}, trace_indexes=indexes)
        if len(ids) == 1:
            all_markers = markers.list_markers(backend, actor, run_id)
    shapes, labels = marker_shapes(all_markers)
    figure.update_layout(shapes=shapes, annotations=labels)
    return figure
