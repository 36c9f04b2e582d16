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
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from . import bulk
from .models import MetricRollup

TIERS = (10, 60, 600, 3600)
_ROLLUPS: Table = MetricRollup.__table__  # type: ignore[assignment]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


# Up to this many points a batch is summarized in plain Python: numpy's cost
# per call (a dozen calls per tier, ~0.4 ms in all) is more than the work on
# a kernel's flush at 1 s (5 samples of ~15 keys: 70 points, 0.1 ms in
# Python). Measured on the machine of docs/sampling.md: 150 points 0.29 ms
# in Python against 0.42 ms with numpy, 200 points even, 400 points 0.64
# against 0.45, so numpy takes anything larger.
SMALL_BATCH = 200


def summarize(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of (series, tier, bucket) aggregates of `points` (dicts of
    series_id, t, v), ordered by series then bucket within each tier;
    grouped with numpy (one pass per tier), or in plain Python for a small
    batch, with the same result (sums in the points' order either way)."""
    if not points:
        return []
    if len(points) <= SMALL_BATCH:
        return _summarize_small(points)
    count = len(points)
    sid = np.fromiter((p["series_id"] for p in points), dtype=np.int64, count=count)
    t = np.fromiter((p["t"] for p in points), dtype=np.float64, count=count)
    v = np.fromiter((p["v"] for p in points), dtype=np.float64, count=count)
    rows: list[dict[str, Any]] = []
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
            {
                "series_id": int(s),
                "tier": tier,
                "bucket": float(b * tier),
                "vmin": float(lo),
                "vmax": float(hi),
                "vsum": float(total),
                "count": int(c),
            }
            for s, b, lo, hi, total, c in zip(
                sid[first], index[first], vmin, vmax, vsum, counts, strict=True
            )
        )
    return rows


def _numpy_order(item: tuple[tuple[int, int], list[Any]]) -> tuple[int, int]:
    """The order of `summarize`'s numpy path: series, then bucket index as 32 bits."""
    (sid, index), _ = item
    return sid, index & 0xFFFFFFFF


def _summarize_small(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    triples = [(p["series_id"], p["t"], p["v"]) for p in points]
    rows: list[dict[str, Any]] = []
    for tier in TIERS:
        # (series, bucket index) → [min, max, sum, count]
        groups: dict[tuple[int, int], list[Any]] = {}
        for sid, t, v in triples:
            key = (sid, math.floor(t / tier))
            acc = groups.get(key)
            if acc is None:
                groups[key] = [v, v, v, 1]
            else:
                if v < acc[0]:
                    acc[0] = v
                if v > acc[1]:
                    acc[1] = v
                acc[2] += v
                acc[3] += 1
        rows.extend(
            {
                "series_id": int(sid),
                "tier": tier,
                "bucket": float(index * tier),
                "vmin": float(lo),
                "vmax": float(hi),
                "vsum": float(total),
                "count": count,
            }
            for (sid, index), (lo, hi, total, count) in sorted(groups.items(), key=_numpy_order)
        )
    return rows


_SQLITE_UPSERT = bulk.sqlite_sql(
    (insert := sqlite.insert(_ROLLUPS)).on_conflict_do_update(
        index_elements=["series_id", "tier", "bucket"],
        set_={
            "vmin": func.min(_ROLLUPS.c.vmin, insert.excluded.vmin),
            "vmax": func.max(_ROLLUPS.c.vmax, insert.excluded.vmax),
            "vsum": _ROLLUPS.c.vsum + insert.excluded.vsum,
            "count": _ROLLUPS.c.count + insert.excluded.count,
        },
    )
)
_ROLLUP_COLUMNS = {
    "series_id": "integer",
    "tier": "integer",
    "bucket": "double precision",
    "vmin": "double precision",
    "vmax": "double precision",
    "vsum": "double precision",
    "count": "integer",
}
_PG_UPSERT = text(
    'INSERT INTO metric_rollups (series_id, tier, bucket, vmin, vmax, vsum, "count") '
    f"{bulk.unnest(_ROLLUP_COLUMNS)} "
    "ON CONFLICT (series_id, tier, bucket) DO UPDATE SET "
    "vmin = least(metric_rollups.vmin, excluded.vmin), "
    "vmax = greatest(metric_rollups.vmax, excluded.vmax), "
    "vsum = metric_rollups.vsum + excluded.vsum, "
    '"count" = metric_rollups."count" + excluded."count"'
)


def upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Merge into stored buckets: min of mins, max of maxes, sums added
    (`bulk`: one statement per batch)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_UPSERT, rows)
    else:
        conn.execute(_PG_UPSERT, bulk.arrays(rows, list(_ROLLUP_COLUMNS)))


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
