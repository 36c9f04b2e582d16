"""The per-cell ledger (F-SM-12) as stored: figures written with a marker's
end, validated, served by `list_cells` to whoever sees the run's markers, on
SQLite and PostgreSQL; and the pure row logic (sorting, lining up two runs)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from labdeck.backend import cells as logic
from labdeck.backend.context import Backend
from labdeck.backend.errors import Invalid, NotFound
from labdeck.backend.services import markers, projects, runs

USAGE: dict[str, Any] = {
    "cpu_seconds": 2.5,
    "rss_peak_bytes": 600 * 2**20,
    "rss_delta_bytes": -(3 * 2**20),
    "disk_read_bytes": 4096,
    "disk_write_bytes": 2**40,
    "net_sent_bytes": 10,
    "net_recv_bytes": 0,
    "gpus": [
        {
            "index": 0,
            "memory_peak_bytes": 47244640256,
            "util_mean": 87.5,
            "energy_j": 1234.5,
            "energy_estimated": False,
        },
        {
            "index": 1,
            "memory_peak_bytes": None,
            "util_mean": None,
            "energy_j": 10.0,
            "energy_estimated": True,
        },
    ],
}


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Any]:
    people = acme
    projects.create_project(backend, people["alice"], "acme", "vision")
    people["run"] = runs.create_run(backend, people["bob"], "acme", "vision")["id"]
    return people


def test_figures_stored_with_the_end_and_served_in_order(
    backend: Backend, world: dict[str, Any]
) -> None:
    run, bob = world["run"], world["bob"]
    first = markers.add_cell_marker(backend, bob, run, 1, "import numpy as np", 100.0)
    second = markers.add_cell_marker(backend, bob, run, 2, "burn(3)", 101.0)
    markers.end_cell_marker(backend, bob, run, first["id"], 100.5)  # an old kernel: no figures
    markers.end_cell_marker(backend, bob, run, second["id"], 104.25, usage=USAGE)
    open_ = markers.add_cell_marker(backend, bob, run, 3, "still running", 105.0)
    rows = markers.list_cells(backend, world["vera"], run)  # view-only sees them
    assert [r["id"] for r in rows] == [first["id"], second["id"], open_["id"]]
    assert rows[0]["duration_s"] == 0.5 and rows[0]["cpu_seconds"] is None
    assert rows[0]["gpus"] == []
    row = rows[1]
    assert row["execution_count"] == 2 and row["first_line"] == "burn(3)"
    assert row["duration_s"] == pytest.approx(3.25)
    for key, value in USAGE.items():
        assert row[key] == value, key
    assert rows[2]["end_t"] is None and rows[2]["duration_s"] is None


def test_usage_is_validated_and_a_refusal_changes_nothing(
    backend: Backend, world: dict[str, Any]
) -> None:
    run, bob = world["run"], world["bob"]
    marker = markers.add_cell_marker(backend, bob, run, 1, "x", 1.0)
    gpu = USAGE["gpus"][0]
    for usage, field in (
        ({"cpu_seconds": -1.0}, "cpu_seconds"),
        ({"cpu_seconds": math.inf}, "cpu_seconds"),
        ({"cpu_seconds": "2"}, "cpu_seconds"),
        ({"rss_peak_bytes": 1.5}, "rss_peak_bytes"),
        ({"disk_read_bytes": -1}, "disk_read_bytes"),
        ({"secret": 1}, "secret"),
        ({"gpus": {"index": 0}}, "gpus"),
        ({"gpus": [{**gpu, "index": True}]}, "gpus"),
        ({"gpus": [{**gpu, "energy_j": -5.0}]}, "energy_j"),
        ({"gpus": [{**gpu, "energy_estimated": "no"}]}, "energy_estimated"),
        ({"gpus": [gpu] * 65}, "gpus"),
        ([1, 2], "usage"),
    ):
        with pytest.raises(Invalid) as err:
            markers.end_cell_marker(backend, bob, run, marker["id"], 2.0, usage=usage)  # type: ignore[arg-type]
        assert err.value.field == field, usage
    row = markers.list_cells(backend, bob, run)[0]
    assert row["end_t"] is None and row["cpu_seconds"] is None
    # negative ΔRSS is a cell that freed memory: allowed
    markers.end_cell_marker(backend, bob, run, marker["id"], 2.0, usage={"rss_delta_bytes": -1})
    assert markers.list_cells(backend, bob, run)[0]["rss_delta_bytes"] == -1


def test_outsiders_do_not_see_the_ledger(backend: Backend, world: dict[str, Any]) -> None:
    run = world["run"]
    markers.add_cell_marker(backend, world["bob"], run, 1, "x", 1.0)
    with pytest.raises(NotFound):
        markers.list_cells(backend, world["olga"], run)
    with pytest.raises(NotFound):
        markers.list_cells(backend, world["bob"], "no-such-run")


def row(count: int, line: str, duration: float, cpu: float, rss_mb: float) -> dict[str, Any]:
    return {
        "execution_count": count,
        "first_line": line,
        "start_t": 0.0,
        "end_t": duration,
        "duration_s": duration,
        "cpu_seconds": cpu,
        "rss_peak_bytes": int(rss_mb * 2**20),
        "gpus": [],
    }


def test_compare_lines_cells_up_by_source_repeats_in_order() -> None:
    a = [row(1, "load()", 1, 1, 100), row(2, "train()", 10, 9, 500), row(3, "train()", 5, 4, 500)]
    b = [
        row(1, "load()", 1, 1, 100),
        row(2, "train()", 20, 18, 500),
        row(3, "new()", 1, 1, 1),
        row(4, "train()", 5, 4, 800),
    ]
    out = logic.compare(a, b)
    pairs = [(r["first_line"], r["a_execution_count"], r["b_execution_count"]) for r in out]
    assert pairs == [("load()", 1, 1), ("train()", 2, 2), ("train()", 3, 4), ("new()", None, 3)]
    assert out[0]["slower"] is False and out[0]["heavier"] is False
    assert out[1]["duration_s_ratio"] == 2.0 and out[1]["duration_s_delta"] == 10.0
    assert out[1]["slower"] and out[1]["heavier"]
    assert not out[2]["slower"] and out[2]["heavier"]  # same time, 300 MB more
    assert out[2]["rss_peak_bytes_delta"] == 300 * 2**20
    assert out[3]["duration_s_a"] is None and out[3]["duration_s_ratio"] is None


def test_sorting_puts_missing_figures_last() -> None:
    rows = [
        row(1, "a", 1, 3, 1),
        {**row(2, "b", 2, 0, 1), "cpu_seconds": None},
        row(3, "c", 3, 5, 1),
    ]
    down = logic.sort_rows(rows, "cpu_seconds", descending=True)
    assert [r["execution_count"] for r in down] == [3, 1, 2]
    up = logic.sort_rows(rows, "cpu_seconds")
    assert [r["execution_count"] for r in up] == [1, 3, 2]
    assert [c.key for c in logic.columns_for(rows)][-1] == "net_bytes"
    gpu_rows = [{**rows[0], "gpus": USAGE["gpus"]}]
    columns = logic.columns_for(gpu_rows)
    energy = next(c for c in columns if c.key == "gpu_energy")
    assert energy.text(gpu_rows[0]) == "1,244 (est.)"  # one GPU counted, one integrated
