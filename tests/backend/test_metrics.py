"""Metric samples: batched writes (validation, duplicates, counters, quota),
downsampled reads, CSV export and cell markers."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.context import Backend
from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from labdeck.backend.models import (
    CellMarker,
    Membership,
    MetricPoint,
    MetricSeries,
    Run,
    Team,
)
from labdeck.backend.services import ingest, markers, metrics, projects, runs


def metric_rows(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    with backend.db.reader() as s:
        return {
            model.__tablename__: sorted(tuple(r) for r in s.execute(select(model.__table__)).all())
            for model in (MetricSeries, MetricPoint, CellMarker)
        }


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Any]:
    people = acme
    projects.create_project(backend, people["alice"], "acme", "vision")
    people["run"] = runs.create_run(backend, people["bob"], "acme", "vision")["id"]
    return people


def samples(start: float, count: int, keys: tuple[str, ...] = ("cpu", "gpu.0.temp")) -> list[Any]:
    return [{"t": start + i, "values": {k: float(i) for k in keys}} for i in range(count)]


def test_write_and_read_back(backend: Backend, world: dict[str, Any]) -> None:
    run = world["run"]
    before = runs.get_run(backend, world["bob"], run)["heartbeat_at"]
    out = ingest.write_samples(
        backend,
        world["bob"],
        run,
        [
            {"t": 100.0, "values": {"cpu": 1, "busy": True, "mem": 2.5}},
            {"t": 101.5, "values": {"cpu": 3.25, "busy": False}},
        ],
    )
    assert out == {"written": 5, "duplicates": 0}
    data = metrics.read_series(backend, world["vera"], run)
    assert data == {
        "series": {
            "busy": {"t": [100.0, 101.5], "v": [1.0, 0.0]},
            "cpu": {"t": [100.0, 101.5], "v": [1.0, 3.25]},
            "mem": {"t": [100.0], "v": [2.5]},
        },
        "downsampled": False,
    }
    assert runs.get_run(backend, world["bob"], run)["heartbeat_at"] >= before
    with backend.db.reader() as s:
        counters = {x.key: (x.count, x.last_t) for x in s.scalars(select(MetricSeries))}
    assert counters == {"busy": (2, 101.5), "cpu": (2, 101.5), "mem": (1, 100.0)}


def test_resent_batch_is_not_counted_twice(backend: Backend, world: dict[str, Any]) -> None:
    run = world["run"]
    batch = samples(0, 50)
    assert ingest.write_samples(backend, world["bob"], run, batch)["written"] == 100
    again = ingest.write_samples(backend, world["bob"], run, batch[10:20] + samples(50, 5))
    assert again == {"written": 10, "duplicates": 20}
    # a repeated time inside one batch: the later value wins, stored once
    dup = [{"t": 70.0, "values": {"cpu": 1.0}}, {"t": 70.0, "values": {"cpu": 9.0}}]
    assert ingest.write_samples(backend, world["bob"], run, dup)["written"] == 1
    data = metrics.read_series(backend, world["bob"], run, keys=["cpu"])["series"]["cpu"]
    assert len(data["t"]) == 56 and data["v"][-1] == 9.0
    with backend.db.reader() as s:
        assert s.scalar(select(MetricSeries.count).where(MetricSeries.key == "cpu")) == 56


@pytest.mark.parametrize(
    "batch",
    [
        "not a list",
        {"t": 1, "values": {}},
        [{"t": 1}],
        [{"values": {"a": 1}}],
        [{"t": 1, "values": {"a": 1}, "extra": 2}],
        [{"t": "1", "values": {"a": 1}}],
        [{"t": True, "values": {"a": 1}}],
        [{"t": math.nan, "values": {"a": 1}}],
        [{"t": math.inf, "values": {"a": 1}}],
        [{"t": 10**400, "values": {"a": 1}}],
        [{"t": 1, "values": [1, 2]}],
        [{"t": 1, "values": {"a": "high"}}],
        [{"t": 1, "values": {"a": None}}],
        [{"t": 1, "values": {"a": math.nan}}],
        [{"t": 1, "values": {"a": -math.inf}}],
        [{"t": 1, "values": {"a": 10**400}}],
        [{"t": 1, "values": {"": 1}}],
        [{"t": 1, "values": {"k" * 513: 1}}],
        [{"t": 1, "values": {5: 1}}],
        [{"t": 1, "values": {"bad\nkey": 1}}],
        [{"t": 1, "values": {"\ud800": 1}}],
        # a good sample first: a batch is all or nothing
        [{"t": 1, "values": {"ok": 1}}, {"t": 2, "values": {"ok": "x"}}],
    ],
)
def test_bad_samples_change_nothing(backend: Backend, world: dict[str, Any], batch: Any) -> None:
    ingest.write_samples(backend, world["bob"], world["run"], samples(0, 3))
    before = metric_rows(backend)
    with pytest.raises(Invalid) as err:
        ingest.write_samples(backend, world["bob"], world["run"], batch)
    assert err.value.field == "samples"
    assert metric_rows(backend) == before


def test_batch_limits(backend: Backend, world: dict[str, Any]) -> None:
    with pytest.raises(TooLarge):
        ingest.write_samples(backend, world["bob"], world["run"], samples(0, 10_001, ("a",)))
    huge = [{"t": float(i), "values": {f"k{j}": 1.0 for j in range(200)}} for i in range(5001)]
    with pytest.raises(TooLarge):
        ingest.write_samples(backend, world["bob"], world["run"], huge)
    assert metric_rows(backend)["metric_points"] == []
    ok = ingest.write_samples(backend, world["bob"], world["run"], samples(0, 10_000, ("a",)))
    assert ok["written"] == 10_000


def test_who_may_write(backend: Backend, world: dict[str, Any]) -> None:
    run = world["run"]
    for who in ("carol", "alice"):
        with pytest.raises(Forbidden):
            ingest.write_samples(backend, world[who], run, samples(0, 1))
    with pytest.raises(NotFound):
        ingest.write_samples(backend, world["olga"], run, samples(0, 1))
    with pytest.raises(NotFound):
        ingest.write_samples(backend, world["bob"], "nosuchrun", samples(0, 1))
    runs.stop_run(backend, world["bob"], run)
    with pytest.raises(Conflict):
        ingest.write_samples(backend, world["bob"], run, samples(0, 1))
    assert metric_rows(backend)["metric_points"] == []


def test_demoted_logger_stops_writing(backend: Backend, world: dict[str, Any]) -> None:
    with backend.db.transaction() as s:
        team = s.scalars(select(Team)).one()
        s.get(Membership, (team.id, world["bob"].user_id)).role = "view_only"  # type: ignore[union-attr]
    with pytest.raises(Forbidden, match="log experiments"):
        ingest.write_samples(backend, world["bob"], world["run"], samples(0, 1))


def test_quota_refuses_the_whole_batch(
    backend: Backend, world: dict[str, Any], settings: Any
) -> None:
    settings.team_quota_bytes = 24 * 150
    ingest.write_samples(backend, world["bob"], world["run"], samples(0, 50))
    before = metric_rows(backend)
    with pytest.raises(TooLarge, match="quota"):
        ingest.write_samples(backend, world["bob"], world["run"], samples(100, 26))
    assert metric_rows(backend) == before
    # resending stored points adds nothing, so it is not refused
    assert ingest.write_samples(backend, world["bob"], world["run"], samples(0, 50))["written"] == 0


def test_read_window_keys_and_downsampling(backend: Backend, world: dict[str, Any]) -> None:
    run = world["run"]
    ingest.write_samples(backend, world["bob"], run, samples(0, 1000, ("a", "b", "c")))
    window = metrics.read_series(backend, world["bob"], run, keys=["a", "zz"], start=10, end=19.5)
    assert list(window["series"]) == ["a"]
    assert window["series"]["a"]["t"] == [float(t) for t in range(10, 20)]
    small = metrics.read_series(backend, world["bob"], run, max_points=100)
    assert small["downsampled"] is True
    for series in small["series"].values():
        assert len(series["t"]) == 100
        assert series["t"][0] == 0.0 and series["t"][-1] == 999.0
        assert series["t"] == sorted(series["t"])
    roomy = metrics.read_series(backend, world["bob"], run, keys=["a"], max_points="5000")
    assert roomy["downsampled"] is False and len(roomy["series"]["a"]["t"]) == 1000
    empty = metrics.read_series(backend, world["bob"], run, keys=["a"], start=5000)
    assert empty["series"] == {"a": {"t": [], "v": []}}


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_points": 2}, "max_points"),
        ({"max_points": 100_001}, "max_points"),
        ({"max_points": True}, "max_points"),
        ({"max_points": "many"}, "max_points"),
        ({"max_points": "²"}, "max_points"),
        ({"start": "soon"}, "start"),
        ({"start": math.nan}, "start"),
        ({"start": 10, "end": 5}, "end"),
        ({"keys": "cpu"}, "keys"),
        ({"keys": [1]}, "keys"),
    ],
)
def test_bad_read_arguments(
    backend: Backend, world: dict[str, Any], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as err:
        metrics.read_series(backend, world["bob"], world["run"], **kwargs)
    assert err.value.field == field


def test_read_permissions(backend: Backend, world: dict[str, Any]) -> None:
    ingest.write_samples(backend, world["bob"], world["run"], samples(0, 3))
    assert metrics.read_series(backend, world["vera"], world["run"])["series"]
    with pytest.raises(NotFound):
        metrics.read_series(backend, world["olga"], world["run"])
    with pytest.raises(NotFound):
        metrics.export_csv(backend, world["olga"], world["run"])


def test_export_csv(backend: Backend, world: dict[str, Any]) -> None:
    ingest.write_samples(
        backend,
        world["bob"],
        world["run"],
        [
            {"t": 1.5, "values": {"cpu": 10.0, "=cmd": 1.0}},
            {"t": 2.5, "values": {"cpu": 11.0}},
            {"t": 3.0, "values": {"=cmd": 0.125}},
        ],
    )
    text = metrics.export_csv(backend, world["vera"], world["run"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["t", "'=cmd", "cpu"],
        ["1.5", "1.0", "10.0"],
        ["2.5", "", "11.0"],
        ["3.0", "0.125", ""],
    ]


def test_cell_markers(backend: Backend, world: dict[str, Any]) -> None:
    run = world["run"]
    marker = markers.add_cell_marker(backend, world["bob"], run, 3, "train(model)\nmore", 10.0)
    assert marker["first_line"] == "train(model)" and marker["end_t"] is None
    long = markers.add_cell_marker(backend, world["bob"], run, None, "x" * 2000, 11.0)
    assert len(long["first_line"]) == 512
    ended = markers.end_cell_marker(backend, world["bob"], run, marker["id"], 20.0, error=True)
    assert ended["end_t"] == 20.0 and ended["error"] is True
    with pytest.raises(Conflict):
        markers.end_cell_marker(backend, world["bob"], run, marker["id"], 21.0)
    with pytest.raises(Invalid) as err:
        markers.end_cell_marker(backend, world["bob"], run, long["id"], 5.0)
    assert err.value.field == "end_t"
    with pytest.raises(Forbidden):
        markers.add_cell_marker(backend, world["carol"], run, 1, "x", 1.0)
    before = metric_rows(backend)
    for args, field in (
        ((-1, "x", 1.0), "execution_count"),
        ((True, "x", 1.0), "execution_count"),
        ((2**40, "x", 1.0), "execution_count"),
        ((1, None, 1.0), "first_line"),
        ((1, "x", math.nan), "start_t"),
    ):
        with pytest.raises(Invalid) as err:
            markers.add_cell_marker(backend, world["bob"], run, *args)
        assert err.value.field == field
    assert metric_rows(backend) == before
    other = runs.create_run(backend, world["carol"], "acme", "vision")["id"]
    with pytest.raises(NotFound):
        markers.end_cell_marker(backend, world["carol"], other, long["id"], 30.0)
    with pytest.raises(NotFound):
        markers.end_cell_marker(backend, world["bob"], run, 2**62, 30.0)
    listed = markers.list_markers(backend, world["vera"], run)
    assert [m["id"] for m in listed] == [marker["id"], long["id"]]
    runs.end_run(backend, world["bob"], run, "finished")
    # a cell that stopped the monitor still closes its band, but no new ones start
    markers.end_cell_marker(backend, world["bob"], run, long["id"], 12.0)
    with pytest.raises(Conflict):
        markers.add_cell_marker(backend, world["bob"], run, 4, "x", 13.0)


def test_deleting_a_run_drops_its_points(backend: Backend, world: dict[str, Any]) -> None:
    ingest.write_samples(backend, world["bob"], world["run"], samples(0, 10))
    runs.delete_run(backend, world["bob"], world["run"])
    with backend.db.reader() as s:
        assert s.get(Run, world["run"]) is None
    assert metric_rows(backend) == {"metric_series": [], "metric_points": [], "cell_markers": []}


def test_values_and_times_come_back_exactly(backend: Backend, world: dict[str, Any]) -> None:
    """Batches travel as text on PostgreSQL (`bulk.arrays`): every float,
    extreme ones included, and every int must read back bit for bit."""
    values = [
        0.1,
        1 / 3,
        -0.0,
        5e-324,
        1e-300,
        1.7976931348623157e308,
        -123456789.12345679,
        2**53,
        -(2**62),
        True,
    ]
    start = 1_700_000_000.123456789
    samples = [{"t": start + i / 7, "values": {"x": v}} for i, v in enumerate(values)]
    ingest.write_samples(backend, world["bob"], world["run"], samples)
    series = metrics.read_series(backend, world["bob"], world["run"], keys=["x"])["series"]["x"]
    assert series["t"] == [s["t"] for s in samples]
    assert series["v"] == [float(v) for v in values]
