"""Summaries written at ingest, and reads that use them (docs/architecture.md,
"Metric storage").

Every batch of new points also updates, per series and for each tier
(10 s, 1 min, 10 min, 1 h), the min/max/sum/count of the bucket each point
falls in. A read of a long range picks the finest tier whose bucket count
fits the points asked for, and draws each bucket as its minimum and maximum,
so spikes survive; raw points are read only when the range holds few enough.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import chain, repeat
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, bindparam, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from . import bulk
from .models import MetricRollup

TIERS = (10, 60, 600, 3600)
_ROLLUPS: Table = MetricRollup.__table__  # type: ignore[assignment]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


# Up to this many points a batch is summarized in plain Python: numpy's cost
# per call (a dozen calls per tier, ~0.4 ms in all) is more than the work on
# a kernel's flush at 1 s (5 samples of ~15 keys: 70 points). Measured on the
# machine of docs/sampling.md: 150 points 0.29 ms in Python against 0.42 ms
# with numpy, 200 points even, 400 points 0.64 against 0.45, so numpy takes
# anything larger. (Python's side is cheaper since: see `_summarize_small`.)
SMALL_BATCH = 200

# A summary row: (series_id, tier, bucket, vmin, vmax, vsum, count), the
# columns of `metric_rollups` in this order; tuples, not dicts, because every
# flush of every kernel makes ~4 a key and the driver binds tuples cheaper.
Rollup = tuple[int, int, float, float, float, float, int]
# The columns in that order, with their PostgreSQL types (`bulk.unnest`).
_ROLLUP_TYPES = {
    "series_id": "integer",
    "tier": "integer",
    "bucket": "double precision",
    "vmin": "double precision",
    "vmax": "double precision",
    "vsum": "double precision",
    "count": "integer",
}
COLUMNS = tuple(_ROLLUP_TYPES)


def summarize(series: Mapping[int, Mapping[float, float]]) -> list[Rollup]:
    """The (series, tier, bucket) aggregates of a batch of new points given
    as series id → {t: v}, in tier order, then by series, then bucket; grouped
    with numpy (one pass per tier), or in plain Python for a small batch,
    with the same result (sums in the points' order either way)."""
    count = sum(map(len, series.values()))
    if not count:
        return []
    if count <= SMALL_BATCH:
        return _summarize_small(series)
    sid = np.fromiter(
        chain.from_iterable(repeat(s, len(points)) for s, points in series.items()),
        dtype=np.int64,
        count=count,
    )
    t = np.fromiter(chain.from_iterable(series.values()), dtype=np.float64, count=count)
    v = np.fromiter(
        chain.from_iterable(points.values() for points in series.values()),
        dtype=np.float64,
        count=count,
    )
    rows: list[Rollup] = []
    for tier in TIERS:
        index = np.floor(t / tier).astype(np.int64)
        # One integer key per (series, bucket): a 1-D unique is far cheaper
        # than a row-wise one, and bucket indexes of unix times fit 32 bits.
        keys = (sid << 32) | (index & 0xFFFFFFFF)
        groups, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        n = len(groups)
        vmin = np.full(n, np.inf)
        vmax = np.full(n, -np.inf)
        np.minimum.at(vmin, inverse, v)
        np.maximum.at(vmax, inverse, v)
        vsum = np.bincount(inverse, weights=v, minlength=n)
        counts = np.bincount(inverse, minlength=n)
        rows.extend(
            (int(s), tier, float(b * tier), float(lo), float(hi), float(total), int(c))
            for s, b, lo, hi, total, c in zip(
                sid[first], index[first], vmin, vmax, vsum, counts, strict=True
            )
        )
    return rows


def _numpy_order(item: tuple[int, list[Any]]) -> int:
    """The order of `summarize`'s numpy path within a series: the bucket
    index as 32 bits."""
    return item[0] & 0xFFFFFFFF


def _summarize_small(series: Mapping[int, Mapping[float, float]]) -> list[Rollup]:
    """A kernel's flush: a few points a series, a few seconds apart, so a
    series' points nearly always fall in one bucket of every tier. Then its
    min, max, sum and count are taken once, in C (`min`, `max`), and serve
    every tier; only a series that straddles a bucket's edge is grouped
    point by point. Half the cost of grouping every point at every tier
    (docs/sampling.md)."""
    by_tier: list[list[Rollup]] = [[] for _ in TIERS]
    floor = math.floor
    for sid in sorted(series):
        points = series[sid]
        if not points:
            continue
        first, last = min(points), max(points)
        whole: tuple[float, float, float, int] | None = None
        for rows, tier in zip(by_tier, TIERS, strict=True):
            index = floor(first / tier)
            if index != floor(last / tier):
                rows.extend(_grouped(sid, tier, points))
                continue
            if whole is None:
                values = iter(points.values())
                total = next(values)
                for v in values:  # in order, as numpy's bincount adds them
                    total += v
                whole = (min(points.values()), max(points.values()), total, len(points))
            rows.append((sid, tier, float(index * tier), *whole))
    return [row for rows in by_tier for row in rows]


def _grouped(sid: int, tier: int, points: Mapping[float, float]) -> list[Rollup]:
    """One series' points grouped by bucket of `tier`, point by point."""
    groups: dict[int, list[Any]] = {}
    for t, v in points.items():
        index = math.floor(t / tier)
        acc = groups.get(index)
        if acc is None:
            groups[index] = [v, v, v, 1]
        else:
            if v < acc[0]:
                acc[0] = v
            if v > acc[1]:
                acc[1] = v
            acc[2] += v
            acc[3] += 1
    return [
        (sid, tier, float(index * tier), lo, hi, total, count)
        for index, (lo, hi, total, count) in sorted(groups.items(), key=_numpy_order)
    ]


_SQLITE_UPSERT = bulk.sqlite_positional(
    (
        insert := sqlite.insert(_ROLLUPS).values({c: bindparam(c) for c in COLUMNS})
    ).on_conflict_do_update(
        index_elements=["series_id", "tier", "bucket"],
        set_={
            "vmin": func.min(_ROLLUPS.c.vmin, insert.excluded.vmin),
            "vmax": func.max(_ROLLUPS.c.vmax, insert.excluded.vmax),
            "vsum": _ROLLUPS.c.vsum + insert.excluded.vsum,
            "count": _ROLLUPS.c.count + insert.excluded.count,
        },
    ),
    COLUMNS,
)
# PostgreSQL: the rows as one array per column (parameters `r_<column>`), part
# of the one statement of a metrics write (`ingest`).
PG_PREFIX = "r_"
PG_UPSERT = (
    'INSERT INTO metric_rollups (series_id, tier, bucket, vmin, vmax, vsum, "count") '
    f"{bulk.unnest(_ROLLUP_TYPES, PG_PREFIX)} "
    "ON CONFLICT (series_id, tier, bucket) DO UPDATE SET "
    "vmin = least(metric_rollups.vmin, excluded.vmin), "
    "vmax = greatest(metric_rollups.vmax, excluded.vmax), "
    "vsum = metric_rollups.vsum + excluded.vsum, "
    '"count" = metric_rollups."count" + excluded."count"'
)


def pg_parameters(rows: list[Rollup]) -> dict[str, Any]:
    return bulk.arrays(rows, COLUMNS, PG_PREFIX)


def upsert_sqlite(conn: Connection, rows: list[Rollup]) -> None:
    """Merge into stored buckets: min of mins, max of maxes, sums added
    (one executemany; on PostgreSQL `PG_UPSERT` is part of the write's
    one statement)."""
    if rows:
        conn.exec_driver_sql(_SQLITE_UPSERT, rows)


def pick_tier(start: float, end: float, max_points: int) -> int | None:
    """The finest tier whose buckets over [start, end] fit in `max_points`."""
    span = max(end - start, 0.0)
    for tier in TIERS:
        if span / tier <= max_points:
            return tier
    return None


def read(
    session: Session,
    names: dict[int, str],
    tier: int,
    start: float | None,
    end: float | None,
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """key → (t, v): each bucket as its min then its max (one point where they
    are equal), in time order."""
    query = select(_ROLLUPS.c.series_id, _ROLLUPS.c.bucket, _ROLLUPS.c.vmin, _ROLLUPS.c.vmax).where(
        _ROLLUPS.c.series_id.in_(list(names)), _ROLLUPS.c.tier == tier
    )
    if start is not None:
        query = query.where(_ROLLUPS.c.bucket >= np.floor(start / tier) * tier)
    if end is not None:
        query = query.where(_ROLLUPS.c.bucket <= end)
    rows = session.execute(query.order_by(_ROLLUPS.c.series_id, _ROLLUPS.c.bucket))
    # Straight into one array: numpy would probe every Row object otherwise.
    table = np.fromiter(chain.from_iterable(rows), dtype=np.float64).reshape(-1, 4)
    empty = np.empty(0, dtype=np.float64)
    result = {names[sid]: (empty, empty) for sid in sorted(names)}
    if not len(table):
        return result
    sids, starts = np.unique(table[:, 0], return_index=True)
    bounds = [*starts[1:], len(table)]
    half = tier / 2
    for sid, lo, hi in zip(sids, starts, bounds, strict=True):
        buckets, vmin, vmax = table[lo:hi, 1], table[lo:hi, 2], table[lo:hi, 3]
        t = np.column_stack([buckets, buckets + half]).reshape(-1)
        v = np.column_stack([vmin, vmax]).reshape(-1)
        keep = np.ones(len(t), dtype=bool)
        keep[1::2] = vmax != vmin
        result[names[int(sid)]] = (t[keep], v[keep])
    return result
