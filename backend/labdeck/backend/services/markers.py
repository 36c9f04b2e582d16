"""Cell markers of a run (F-SM-9): each notebook cell executed while a
monitor runs, drawn on the run's charts as a labelled band."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import CellMarker
from .projects import MAX_ID, is_id
from .runs import load_run, require_logger, require_running

FIRST_LINE_MAX = 512


def marker_view(marker: CellMarker) -> dict[str, Any]:
    return {
        "id": marker.id,
        "run_id": marker.run_id,
        "execution_count": marker.execution_count,
        "first_line": marker.first_line,
        "start_t": marker.start_t,
        "end_t": marker.end_t,
        "error": marker.error,
    }


def add_cell_marker(
    backend: Backend,
    actor: Actor,
    run_id: str,
    execution_count: int | None,
    first_line: str,
    start_t: float,
) -> dict[str, Any]:
    """A cell started while the run monitors (F-SM-9). Only the first line of
    the source is kept, cut to a label's length: it names the cell, nothing more."""
    if execution_count is not None and (
        isinstance(execution_count, bool) or not isinstance(execution_count, int)
    ):
        raise Invalid("execution_count must be a whole number", field="execution_count")
    if execution_count is not None and not 0 <= execution_count <= MAX_ID:
        raise Invalid("execution_count must be a whole number from 0", field="execution_count")
    line = validate.text(first_line, "first_line", max_len=10**6)
    first = line.splitlines()[0][:FIRST_LINE_MAX] if line else ""
    label = first.encode("utf-8", "replace").decode("utf-8")
    start = validate.finite_number(start_t, "start_t", "start_t")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        require_logger(run, user.id, "mark its cells")
        found.require("log experiments", user)
        require_running(run, "mark a cell")
        marker = CellMarker(
            run_id=run.id, execution_count=execution_count, first_line=label, start_t=start
        )
        session.add(marker)
        session.flush()
        return marker_view(marker)


def end_cell_marker(
    backend: Backend,
    actor: Actor,
    run_id: str,
    marker_id: int,
    end_t: float,
    error: bool = False,
) -> dict[str, Any]:
    """The cell finished (or raised). Allowed after the run ended: a cell that
    stops its own monitor still closes its band."""
    end = validate.finite_number(end_t, "end_t", "end_t")
    failed = validate.flag(error, "error")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, _ = load_run(session, user, run_id)
        require_logger(run, user.id, "mark its cells")
        marker = session.get(CellMarker, marker_id) if is_id(marker_id) else None
        if marker is None or marker.run_id != run.id:
            raise NotFound("no cell marker with that id in this run")
        if marker.end_t is not None:
            raise Conflict("this cell marker has already ended")
        if end < marker.start_t:
            raise Invalid("end_t must not be before the cell started", field="end_t")
        marker.end_t, marker.error = end, failed
        return marker_view(marker)


def list_markers(backend: Backend, actor: Actor, run_id: str) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        markers = session.scalars(
            select(CellMarker)
            .where(CellMarker.run_id == run.id)
            .order_by(CellMarker.start_t, CellMarker.id)
        )
        return [marker_view(m) for m in markers]
