"""Metric samples of a run (F-SM-7): batched writes, downsampled reads, CSV
export, and the notebook cell markers drawn on the charts (F-SM-9).

Points are the hot table. A write validates the whole batch first, then
touches each table once: one SELECT of the run's series, one executemany
INSERT of the points (SQLAlchemy Core, not the ORM unit of work), one
executemany UPDATE of the series counters. A point already stored at the
same time is kept and the new one skipped, so a client may safely resend a
batch whose answer it never got.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import BindParameter, Insert, Table, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import rollups, storage
from ..access import actor_user
from ..context import Actor, Backend
from ..downsample import MIN_POINTS, downsample
from ..errors import Invalid, TooLarge
from ..models import MetricPoint, MetricSeries, Run, utcnow
from .runs import load_run, require_logger, require_running

MAX_SAMPLES = 10_000
MAX_POINTS_PER_CALL = 1_000_000
MAX_KEY_LEN = 512
MAX_READ_POINTS = 100_000
_POINTS: Table = MetricPoint.__table__  # type: ignore[assignment]
_SERIES: Table = MetricSeries.__table__  # type: ignore[assignment]
# An int strictly inside this bound converts to a finite float (the fast path of
# `_parse_samples`); any other goes through `finite_number`, which refuses it.
_FLOAT_SAFE_INT = 2**1023


def finite_number(value: Any, what: str, field: str) -> float:
    """A finite float from an int or float (a bool is refused here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Invalid(f"{what} must be a number", field=field)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise Invalid(f"{what} must be a finite number", field=field)
    return number


def _key(key: Any, i: int) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise Invalid(
            f"samples[{i}]: metric keys must be 1–{MAX_KEY_LEN} printable characters",
            field="samples",
        )
    return key


def _parse_samples(samples: Any) -> dict[str, dict[float, float]]:
    """key → {t: v}; a later sample of the same batch wins a repeated time.

    This loop runs once per point, so plain floats and ints take a fast path
    and each key is checked once per batch; anything else goes through
    `finite_number`."""
    if not isinstance(samples, Sequence) or isinstance(samples, (str, bytes)):
        raise Invalid("samples must be a list", field="samples")
    if len(samples) > MAX_SAMPLES:
        raise TooLarge(f"at most {MAX_SAMPLES} samples per call; send the rest in another batch")
    series: dict[str, dict[float, float]] = {}
    finite = math.isfinite
    total = 0
    for i, sample in enumerate(samples):
        if not isinstance(sample, Mapping) or len(sample) != 2 or set(sample) != {"t", "values"}:
            raise Invalid(f'samples[{i}] must be {{"t": ..., "values": {{...}}}}', field="samples")
        t = sample["t"]
        if type(t) is not float or not finite(t):
            t = finite_number(t, f"samples[{i}].t", "samples")
        values = sample["values"]
        if not isinstance(values, Mapping):
            raise Invalid(f"samples[{i}].values must be an object", field="samples")
        total += len(values)
        if total > MAX_POINTS_PER_CALL:
            raise TooLarge(f"at most {MAX_POINTS_PER_CALL} points per call")
        for key, raw in values.items():
            kind = type(raw)
            if kind is float and finite(raw):
                value = raw
            elif kind is int and -_FLOAT_SAFE_INT < raw < _FLOAT_SAFE_INT:
                value = float(raw)
            elif kind is bool:
                value = 1.0 if raw else 0.0
            else:
                value = finite_number(raw, f"samples[{i}].values[{key!r}]", "samples")
            points = series.get(key)
            if points is None:
                points = series[_key(key, i)] = {}
            points[t] = value
    return series


def _insert_ignore(session: Session, table: Table) -> Insert:
    """The dialect's INSERT that skips rows whose key already exists."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


# SQLAlchemy processes each parameter set of an executemany in Python, which
# on SQLite costs more than the insert itself: there the Core statement is
# compiled once (named style, so rows stay dicts) and handed to the driver.
# psycopg's own executemany is no faster, so PostgreSQL keeps the Core path.
_SQLITE_POINTS_INSERT = str(
    sqlite.insert(_POINTS)
    .on_conflict_do_nothing()
    .compile(dialect=sqlite.dialect(paramstyle="named"))
)


def _insert_points(session: Session, points: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql(_SQLITE_POINTS_INSERT, points)
    else:
        session.execute(_insert_ignore(session, _POINTS), points)


def _series_ids(
    session: Session, run_id: str, keys: list[str]
) -> dict[str, tuple[int, float | None]]:
    """key → (series id, last time), creating the missing series."""

    def load() -> dict[str, tuple[int, float | None]]:
        rows = session.execute(
            select(_SERIES.c.key, _SERIES.c.id, _SERIES.c.last_t).where(_SERIES.c.run_id == run_id)
        )
        return {key: (sid, last) for key, sid, last in rows}

    known = load()
    missing = [k for k in keys if k not in known]
    if missing:
        session.execute(
            _insert_ignore(session, _SERIES),
            [{"run_id": run_id, "key": k, "count": 0, "last_t": None} for k in missing],
        )
        known = load()
    return known


def _already_stored(
    session: Session,
    series: dict[str, dict[float, float]],
    ids: dict[str, tuple[int, float | None]],
) -> set[tuple[int, float]]:
    """(series id, t) of incoming points that may exist already: only those at
    or before a series' last time can, so an appending writer skips this."""
    suspects = {
        ids[key][0]: [t for t in points if t <= last]
        for key, points in series.items()
        if (last := ids[key][1]) is not None
    }
    suspects = {sid: ts for sid, ts in suspects.items() if ts}
    if not suspects:
        return set()
    low = min(min(ts) for ts in suspects.values())
    high = max(max(ts) for ts in suspects.values())
    rows = session.execute(
        select(_POINTS.c.series_id, _POINTS.c.t).where(
            _POINTS.c.series_id.in_(list(suspects)), _POINTS.c.t >= low, _POINTS.c.t <= high
        )
    )
    return {(sid, t) for sid, t in rows}


def write_samples(
    backend: Backend, actor: Actor, run_id: str, samples: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Store a batch of samples of a running run and refresh its heartbeat.
    Answers how many points were new and how many were already there."""
    series = _parse_samples(samples)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        require_logger(run, user, "write its metrics")
        found.require("log experiments", user)
        require_running(run, "write metrics")
        ids = _series_ids(session, run.id, list(series)) if series else {}
        stored = _already_stored(session, series, ids)
        points: list[dict[str, Any]] = []
        counters: list[dict[str, Any]] = []
        for key, by_time in series.items():
            sid = ids[key][0]
            # An appending writer has nothing stored at these times: no filtering.
            fresh = (
                {t: v for t, v in by_time.items() if (sid, t) not in stored} if stored else by_time
            )
            if fresh:
                points.extend([{"series_id": sid, "t": t, "v": v} for t, v in fresh.items()])
                counters.append({"b_id": sid, "b_n": len(fresh), "b_last": max(fresh)})
        storage.require_quota(session, backend, found.project, storage.POINT_BYTES * len(points))
        if points:
            _insert_points(session, points)
            rollups.upsert(session, rollups.summarize(points))
            last: BindParameter[float] = bindparam("b_last")
            session.execute(
                update(_SERIES)
                .where(_SERIES.c.id == bindparam("b_id"))
                .values(
                    count=_SERIES.c.count + bindparam("b_n"),
                    last_t=case(
                        (or_(_SERIES.c.last_t.is_(None), _SERIES.c.last_t < last), last),
                        else_=_SERIES.c.last_t,
                    ),
                ),
                counters,
            )
        run.heartbeat_at = utcnow()
        total = sum(len(by_time) for by_time in series.values())
        return {"written": len(points), "duplicates": total - len(points)}


def _optional_number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Invalid(f"{field} must be a number", field=field) from None
    return finite_number(value, field, field)


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
