"""Summaries written at ingest answer long-range reads, exactly enough that a
spike survives, and resent batches do not count twice."""

from __future__ import annotations

import random
import time

import numpy as np
from sqlalchemy import func, select

from labdeck.backend.models import MetricPoint, MetricRollup
from labdeck.backend.rollups import TIERS, pick_tier, summarize
from labdeck.backend.services import ingest, metrics, projects, runs


def _long_run(backend, actor, n=6000):
    projects.create_project(backend, actor, "kim", "long")
    run = runs.create_run(backend, actor, "kim", "long")
    t0 = time.time()
    values = np.sin(np.arange(n) / 50.0)
    values[n * 2 // 3] = 25.0  # one spike
    samples = [{"t": t0 + i, "values": {"gpu.0.temp": float(v)}} for i, v in enumerate(values)]
    for lo in range(0, n, 2000):
        ingest.write_samples(backend, actor, run["id"], samples[lo : lo + 2000])
    return run["id"], samples


def test_long_range_reads_come_from_summaries_and_keep_spikes(backend, make_user):
    kim = make_user("kim")
    run_id, samples = _long_run(backend, kim)
    data = metrics.read_series(backend, kim, run_id, max_points=200)
    series = data["series"]["gpu.0.temp"]
    assert data["downsampled"] and 3 <= len(series["t"]) <= 200
    assert max(series["v"]) == 25.0 and min(series["v"]) < -0.99
    assert series["t"] == sorted(series["t"])
    # A zoomed window small enough is read from the raw points.
    t0 = samples[4300]["t"]
    window = metrics.read_series(backend, kim, run_id, start=t0, end=t0 + 50, max_points=200)
    assert window["series"]["gpu.0.temp"]["t"][0] == t0
    assert len(window["series"]["gpu.0.temp"]["t"]) == 51 and not window["downsampled"]


def test_resent_batches_are_not_counted_twice(backend, make_user):
    kim = make_user("kim")
    run_id, samples = _long_run(backend, kim, n=300)
    ingest.write_samples(backend, kim, run_id, samples[:100])
    with backend.db.reader() as session:
        points = session.scalar(select(func.count()).select_from(MetricPoint))
        for tier in TIERS:
            counted = session.scalar(
                select(func.sum(MetricRollup.count)).where(MetricRollup.tier == tier)
            )
            assert counted == points == 300


def test_summarize_and_pick_tier():
    rows = summarize({1: {5.0: 1.0, 7.0: 3.0, 12.0: 2.0}})
    ten = [r for r in rows if r[1] == 10]
    # (series_id, tier, bucket, vmin, vmax, vsum, count)
    assert ten == [(1, 10, 0.0, 1.0, 3.0, 4.0, 2), (1, 10, 10.0, 2.0, 2.0, 2.0, 1)]
    assert [r for r in rows if r[1] == 60] == [(1, 60, 0.0, 1.0, 3.0, 6.0, 3)]
    assert pick_tier(0, 7 * 86400, 2000) == 600
    assert pick_tier(0, 3600, 2000) == 10


def test_a_small_batch_summarized_in_python_equals_numpy(monkeypatch):
    """A kernel's flush (≤ SMALL_BATCH points) skips numpy; the rows must be
    the very ones numpy's path gives: same order, same floats (sums in the
    points' order), negative and huge times and values included."""
    from labdeck.backend import rollups

    rng = random.Random(15)
    small_batch = rollups.SMALL_BATCH
    assert small_batch >= 70  # a 1 s monitor's flush: 5 samples of ~14 keys
    for _ in range(200):
        points: dict[int, dict[float, float]] = {}
        for _ in range(rng.randint(1, small_batch)):
            t = rng.choice([rng.uniform(-5e4, 2e9), float(rng.randint(0, 100))])
            # A kernel's flush: a few seconds of one series (one bucket of most tiers)
            # as well as points scattered over the whole range.
            t = t if rng.random() < 0.5 else 1.7e9 + rng.uniform(0, 5)
            series = points.setdefault(rng.randint(1, 8), {})
            series[t] = rng.choice([rng.uniform(-1e6, 1e6), 0.0, -0.0, 1e300])
        monkeypatch.setattr(rollups, "SMALL_BATCH", small_batch)
        small = rollups.summarize(points)
        monkeypatch.setattr(rollups, "SMALL_BATCH", -1)  # numpy for any size
        assert small == rollups.summarize(points)
        assert [type(x) for x in small[0]] == [int, int, float, float, float, float, int]
