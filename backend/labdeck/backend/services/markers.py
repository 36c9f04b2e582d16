"""Cell markers of a run (F-SM-9): each notebook cell executed while a
monitor runs, drawn on the run's charts as a labelled band; and the per-cell
ledger (F-SM-12): what each cell cost, reckoned by the kernel from its samples
(kernel/ledger.py) and written with the marker's end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import CellMarker, utcnow
from .runs import load_run, require_logger, require_running

FIRST_LINE_MAX = 512
# The ledger's figures: (field, whole number?, may be negative?).
USAGE_NUMBERS: tuple[tuple[str, bool, bool], ...] = (
    ("cpu_seconds", False, False),
    ("rss_peak_bytes", True, False),
    ("rss_delta_bytes", True, True),
    ("disk_read_bytes", True, False),
    ("disk_write_bytes", True, False),
    ("net_sent_bytes", True, False),
    ("net_recv_bytes", True, False),
)
USAGE_FIELDS = (*(name for name, _, _ in USAGE_NUMBERS), "gpus")
GPU_NUMBERS: tuple[tuple[str, bool], ...] = (
    ("memory_peak_bytes", True),
    ("util_mean", False),
    ("energy_j", False),
)
MAX_GPUS = 64
BIG = 2**62  # BigInteger's room, with margin


def _number(value: Any, field: str, whole: bool, negative: bool) -> float | int | None:
    if value is None:
        return None
    number = validate.finite_number(value, field, field)
    if not negative and number < 0:
        raise Invalid(f"{field} must not be negative", field=field)
    if whole:
        if number != int(number) or abs(number) > BIG:
            raise Invalid(f"{field} must be a whole number of bytes", field=field)
        return int(number)
    return number


def valid_usage(usage: Any) -> dict[str, Any]:
    """A ledger row's figures as the kernel sends them; every field optional."""
    if usage is None:
        return {}
    if not isinstance(usage, Mapping):
        raise Invalid("usage must be an object", field="usage")
    validate.only_fields(usage, USAGE_FIELDS)
    row: dict[str, Any] = {
        name: _number(usage.get(name), name, whole, negative)
        for name, whole, negative in USAGE_NUMBERS
    }
    gpus = usage.get("gpus")
    if gpus is None:
        row["gpus"] = None
        return row
    if not isinstance(gpus, list) or len(gpus) > MAX_GPUS:
        raise Invalid(f"gpus must be a list of at most {MAX_GPUS} GPUs", field="gpus")
    clean: list[dict[str, Any]] = []
    for gpu in gpus:
        if not isinstance(gpu, Mapping):
            raise Invalid("each of gpus must be an object", field="gpus")
        validate.only_fields(gpu, ("index", *(n for n, _ in GPU_NUMBERS), "energy_estimated"))
        index = gpu.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 4096:
            raise Invalid("a GPU's index must be a whole number from 0", field="gpus")
        item: dict[str, Any] = {"index": index}
        for name, whole in GPU_NUMBERS:
            item[name] = _number(gpu.get(name), name, whole, False)
        item["energy_estimated"] = validate.flag(
            gpu.get("energy_estimated", False), "energy_estimated"
        )
        clean.append(item)
    row["gpus"] = clean
    return row


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


def cell_view(marker: CellMarker) -> dict[str, Any]:
    """One row of the ledger (`GET /runs/{run_id}/cells`)."""
    end = marker.end_t
    return {
        **marker_view(marker),
        "duration_s": None if end is None else end - marker.start_t,
        **{name: getattr(marker, name) for name, _, _ in USAGE_NUMBERS},
        "gpus": list(marker.gpus or []),
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
    if execution_count is not None and not 0 <= execution_count <= validate.MAX_ROW_ID:
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
        run.heartbeat_at = utcnow()  # any accepted kernel write is a sign of life (issue 9)
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
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The cell finished (or raised), with its ledger figures (`usage`,
    F-SM-12). Allowed after the run ended: a cell that stops its own monitor
    still closes its band, and its figures come after the monitor's last sample."""
    end = validate.finite_number(end_t, "end_t", "end_t")
    failed = validate.flag(error, "error")
    figures = valid_usage(usage)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, _ = load_run(session, user, run_id)
        require_logger(run, user.id, "mark its cells")
        marker = session.get(CellMarker, marker_id) if validate.is_row_id(marker_id) else None
        if marker is None or marker.run_id != run.id:
            raise NotFound("no cell marker with that id in this run")
        if marker.end_t is not None:
            raise Conflict("this cell marker has already ended")
        if end < marker.start_t:
            raise Invalid("end_t must not be before the cell started", field="end_t")
        marker.end_t, marker.error = end, failed
        for name, value in figures.items():
            setattr(marker, name, value)
        if run.state == "running":
            run.heartbeat_at = utcnow()  # a sign of life too (issue 9)
        return marker_view(marker)


def _run_markers(
    backend: Backend, actor: Actor, run_id: str, view: Callable[[CellMarker], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The run's cell markers in order, each as `view` shows it, for whoever
    may view the run's metadata."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        markers = session.scalars(
            select(CellMarker)
            .where(CellMarker.run_id == run.id)
            .order_by(CellMarker.start_t, CellMarker.id)
        )
        return [view(m) for m in markers]


def list_markers(backend: Backend, actor: Actor, run_id: str) -> list[dict[str, Any]]:
    return _run_markers(backend, actor, run_id, marker_view)


def list_cells(backend: Backend, actor: Actor, run_id: str) -> list[dict[str, Any]]:
    """The run's ledger (F-SM-12): one row per executed cell, in order; seen
    by whoever may see its markers."""
    return _run_markers(backend, actor, run_id, cell_view)
