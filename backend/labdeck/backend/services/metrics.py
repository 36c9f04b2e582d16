"""Reading a run's metrics (F-SM-7): series downsampled for drawing, from
the summaries written at ingest when a range is long, and CSV export.
Writing them is `services/ingest.py`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from .. import rollups, validate
from ..access import actor_user
from ..context import Actor, Backend
from ..downsample import MIN_POINTS, downsample
from ..errors import Invalid
from ..models import MetricPoint, MetricSeries, Run
from .ingest import MAX_KEY_LEN
from .runs import load_run

MAX_READ_POINTS = 100_000
_POINTS: Table = MetricPoint.__table__  # type: ignore[assignment]
_SERIES: Table = MetricSeries.__table__  # type: ignore[assignment]


def _optional_number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Invalid(f"{field} must be a number", field=field) from None
    return validate.finite_number(value, field, field)


def _max_points(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("max_points must be a whole number", field="max_points")
    if not MIN_POINTS <= value <= MAX_READ_POINTS:
        raise Invalid(
            f"max_points must be between {MIN_POINTS} and {MAX_READ_POINTS}", field="max_points"
        )
    return value


def _keys(keys: Any) -> list[str] | None:
    if keys is None:
        return None
    if not isinstance(keys, Sequence) or isinstance(keys, (str, bytes)):
        raise Invalid("keys must be a list of metric keys", field="keys")
    for key in keys:
        if not isinstance(key, str) or len(key) > MAX_KEY_LEN:
            raise Invalid("keys must be a list of metric keys", field="keys")
    return list(dict.fromkeys(keys))


def _series_names(session: Session, run: Run, keys: list[str] | None) -> dict[int, str]:
    query = select(_SERIES.c.id, _SERIES.c.key).where(_SERIES.c.run_id == run.id)
    if keys is not None:
        query = query.where(_SERIES.c.key.in_(keys))
    return {sid: key for sid, key in session.execute(query)}


# Raw points are read (then downsampled exactly) while a range holds at most
# this many times the points asked for; past it the summaries answer.
RAW_READ_FACTOR = 4


def _summary_tier(
    session: Session,
    run: Run,
    keys: list[str] | None,
    start: float | None,
    end: float | None,
    limit: int | None,
) -> int | None:
    """The rollup tier to draw from, or None to read raw points."""
    if limit is None:
        return None
    query = select(func.max(_SERIES.c.count), func.max(_SERIES.c.last_t)).where(
        _SERIES.c.run_id == run.id
    )
    if keys is not None:
        query = query.where(_SERIES.c.key.in_(keys))
    most, last = session.execute(query).one()
    if not most or last is None or most <= RAW_READ_FACTOR * limit:
        return None
    first = run.created_at.timestamp()
    span = max(last - first, 1.0)
    low = first if start is None else max(start, first)
    high = last if end is None else min(end, last)
    if most * max(high - low, 0.0) / span <= RAW_READ_FACTOR * limit:
        return None
    return rollups.pick_tier(low, high, limit) or rollups.TIERS[-1]


def _points(
    session: Session, run: Run, keys: list[str] | None, start: float | None, end: float | None
) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """key → (t, v) sorted by time: one query for the series, one for points."""
    names = _series_names(session, run, keys)
    if not names:
        return {}
    points = select(_POINTS.c.series_id, _POINTS.c.t, _POINTS.c.v).where(
        _POINTS.c.series_id.in_(list(names))
    )
    if start is not None:
        points = points.where(_POINTS.c.t >= start)
    if end is not None:
        points = points.where(_POINTS.c.t <= end)
    rows = session.execute(points.order_by(_POINTS.c.series_id, _POINTS.c.t))
    # Flattened straight into one array: building it from row objects costs
    # more than the query itself on a long run.
    table = np.fromiter(chain.from_iterable(rows), dtype=np.float64).reshape(-1, 3)
    empty = np.empty(0, dtype=np.float64)
    result = {names[sid]: (empty, empty) for sid in sorted(names)}
    if len(table):
        sids, starts = np.unique(table[:, 0], return_index=True)
        bounds = [*starts[1:], len(table)]
        for sid, lo, hi in zip(sids, starts, bounds, strict=True):
            result[names[int(sid)]] = (table[lo:hi, 1], table[lo:hi, 2])
    return dict(sorted(result.items()))


def read_series(
    backend: Backend,
    actor: Actor,
    run_id: str,
    keys: Sequence[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    max_points: int | None = None,
) -> dict[str, Any]:
    """The run's series between `start` and `end` (unix seconds), each reduced
    to at most `max_points` points for drawing when it is longer."""
    wanted = _keys(keys)
    low, high = _optional_number(start, "start"), _optional_number(end, "end")
    if low is not None and high is not None and high < low:
        raise Invalid("end must not be before start", field="end")
    limit = _max_points(max_points)
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        tier = _summary_tier(session, run, wanted, low, high, limit)
        if tier is None:
            data = _points(session, run, wanted, low, high)
        else:
            data = rollups.read(session, _series_names(session, run, wanted), tier, low, high)
    out: dict[str, Any] = {}
    reduced = tier is not None
    for key, (t, v) in data.items():
        if limit is not None:
            t, v, shrunk = downsample(t, v, limit)
            reduced = reduced or shrunk
        out[key] = {"t": t.tolist(), "v": v.tolist()}
    return {"series": out, "downsampled": reduced}


def _csv_cell(text: str) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def export_csv(backend: Backend, actor: Actor, run_id: str) -> str:
    """Every point: a `t` column, one column per key, one row per time."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        data = _points(session, run, None, None, None)
    keys = list(data)
    rows: dict[float, list[str]] = {}
    for column, (t, v) in enumerate(data.values()):
        for time, value in zip(t.tolist(), v.tolist(), strict=True):
            rows.setdefault(time, [""] * len(keys))[column] = repr(value)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["t", *(_csv_cell(k) for k in keys)])
    for time in sorted(rows):
        writer.writerow([repr(time), *rows[time]])
    return out.getvalue()
