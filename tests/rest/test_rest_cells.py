"""REST: the per-cell ledger (F-SM-12). The recording kernel ends a marker
with its figures (`PATCH /runs/{id}/markers/{marker_id}` with `usage`);
`GET /runs/{id}/cells` serves them to whoever sees the run's markers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from world import acme_team

from labdeck.backend.context import Backend
from labdeck.backend.services import projects, runs

USAGE = {
    "cpu_seconds": 3.1,
    "rss_peak_bytes": 700 * 2**20,
    "rss_delta_bytes": 500 * 2**20,
    "disk_read_bytes": 0,
    "disk_write_bytes": 8192,
    "net_sent_bytes": 1,
    "net_recv_bytes": 2,
    "gpus": [
        {
            "index": 0,
            "memory_peak_bytes": 2**33,
            "util_mean": 99.5,
            "energy_j": 300.0,
            "energy_estimated": True,
        }
    ],
}


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Any]:
    people = acme_team(backend, make_user, through_services=True)
    projects.create_project(backend, people["bob"], "acme", "vision", "team")
    people["run"] = runs.create_run(backend, people["bob"], "acme", "vision", "r1")["id"]
    return people


async def test_cells_written_by_the_kernel_and_read_by_the_team(
    api_as: Any, world: dict[str, Any]
) -> None:
    bob, carol, vera, olga = (api_as(world[n]) for n in ("bob", "carol", "vera", "olga"))
    run_id = world["run"]
    code, marker = await bob(
        "POST",
        f"/runs/{run_id}/markers",
        {"execution_count": 4, "first_line": "burn(3)", "start_t": 10.0},
    )
    assert code == 201
    path = f"/runs/{run_id}/markers/{marker['id']}"
    for usage, field in (
        ({**USAGE, "cpu_seconds": -1}, "cpu_seconds"),
        ({**USAGE, "extra": 1}, "extra"),
        ({**USAGE, "gpus": [{"index": "zero"}]}, "gpus"),
        ("lots", "usage"),
    ):
        code, err = await bob("PATCH", path, {"end_t": 13.5, "usage": usage})
        assert code == 422 and err.get("field") == field, (usage, err)
    code, _ = await carol("PATCH", path, {"end_t": 13.5, "usage": USAGE})
    assert code == 403  # only the run's own kernel marks its cells
    code, ended = await bob("PATCH", path, {"end_t": 13.5, "error": False, "usage": USAGE})
    assert code == 200 and ended["end_t"] == 13.5

    code, rows = await vera("GET", f"/runs/{run_id}/cells")
    assert code == 200 and len(rows) == 1
    row = rows[0]
    assert (row["execution_count"], row["first_line"], row["duration_s"]) == (4, "burn(3)", 3.5)
    for key, value in USAGE.items():
        assert row[key] == value, key
    code, _ = await olga("GET", f"/runs/{run_id}/cells")
    assert code == 404
    code, _ = await bob("GET", "/runs/nosuchrun/cells")
    assert code == 404


async def test_saved_code_over_rest(api_as: Any, world: dict[str, Any]) -> None:
    bob, vera, olga = (api_as(world[n]) for n in ("bob", "vera", "olga"))
    code, run = await bob("POST", "/projects/acme/vision/runs", {"save_code": True})
    assert code == 201 and run["config"]["_labdeck"]["code_saving"] is True
    code, marker = await bob(
        "POST",
        f"/runs/{run['id']}/markers",
        {"execution_count": 1, "first_line": "x = 1", "start_t": 1.0},
    )
    body = {"kind": "cell", "name": "In [1]", "text": "x = 1\ny = 2", "marker_id": marker["id"]}
    code, saved = await bob("POST", f"/runs/{run['id']}/code", body)
    assert code == 201 and saved["seq"] == 1
    code, listed = await vera("GET", f"/runs/{run['id']}/code")
    assert code == 200 and listed["code_saving"] is True
    assert [(f["name"], f["execution_count"], f["text"]) for f in listed["files"]] == [
        ("In [1]", 1, "x = 1\ny = 2")
    ]
    code, _ = await olga("GET", f"/runs/{run['id']}/code")
    assert code == 404
    # Off: refused, nothing kept.
    code, quiet = await bob("POST", "/projects/acme/vision/runs", {"save_code": False})
    code, err = await bob("POST", f"/runs/{quiet['id']}/code", {**body, "marker_id": None})
    assert code == 409 and err["error"] == "conflict"
    code, listed = await bob("GET", f"/runs/{quiet['id']}/code")
    assert code == 200 and listed == {"code_saving": False, "files": []}


# Under the server's default staleness: with the reaper's test window of 1 s
# (test_reaper.py) a loaded machine could reap the run between two requests.
async def test_cell_markers_count_as_the_runs_heartbeat(api_as, make_user):
    kim = make_user("kim")
    api = api_as(kim)
    await api("POST", "/projects/kim", {"name": "p", "visibility": "private"})
    _, run = await api("POST", "/projects/kim/p/runs", {"name": "cells"})
    before = (await api("GET", f"/runs/{run['id']}"))[1]["heartbeat_at"]
    await asyncio.sleep(0.3)
    code, marker = await api("POST", f"/runs/{run['id']}/markers", {"start_t": 1.0})
    assert code == 201
    after = (await api("GET", f"/runs/{run['id']}"))[1]["heartbeat_at"]
    assert after > before
    await asyncio.sleep(0.3)
    code, _ = await api("PATCH", f"/runs/{run['id']}/markers/{marker['id']}", {"end_t": 2.0})
    assert code == 200
    assert (await api("GET", f"/runs/{run['id']}"))[1]["heartbeat_at"] > after
