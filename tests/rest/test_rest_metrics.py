"""REST: a run's metric samples (batched writes, downsampled reads, CSV) and
its cell markers."""

from __future__ import annotations

from typing import Any

import pytest
from world import acme_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import ingest, markers, projects, runs


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Any]:
    """Team acme (alice admin, bob and carol members, vera view-only), olga
    outside; bob's running run in acme/vision."""
    people = acme_team(backend, make_user, through_services=True)
    projects.create_project(backend, people["bob"], "acme", "vision", "team")
    people["run"] = runs.create_run(backend, people["bob"], "acme", "vision", "r1")["id"]
    return people


def samples(times: range) -> list[dict[str, Any]]:
    return [{"t": float(t), "values": {"cpu": t * 1.5, "mem": 100 - t}} for t in times]


async def test_write_and_read_metrics(api_as: Any, world: dict[str, Any]) -> None:
    bob, vera, olga = (api_as(world[n]) for n in ("bob", "vera", "olga"))
    path = f"/runs/{world['run']}/metrics"

    code, written = await bob("POST", path, {"samples": samples(range(1, 11))})
    assert code == 200 and written == {"written": 20, "duplicates": 0}
    # A resent batch (its answer lost) stores nothing twice.
    code, again = await bob("POST", path, {"samples": samples(range(8, 13))})
    assert code == 200 and again == {"written": 4, "duplicates": 6}

    code, read = await vera("GET", path)
    assert code == 200 and read["downsampled"] is False
    assert set(read["series"]) == {"cpu", "mem"}
    assert read["series"]["cpu"]["t"] == [float(t) for t in range(1, 13)]
    assert read["series"]["mem"]["v"][0] == 99.0
    code, one = await vera("GET", path, params={"keys": "cpu"})
    assert code == 200 and list(one["series"]) == ["cpu"]
    code, both = await vera("GET", path, params=[("keys", "mem"), ("keys", "cpu")])
    assert code == 200 and set(both["series"]) == {"cpu", "mem"}
    code, both = await vera("GET", path, params={"keys": "cpu,mem,nope"})
    assert code == 200 and set(both["series"]) == {"cpu", "mem"}
    code, window = await vera("GET", path, params={"keys": "cpu", "start": "3", "end": 5.5})
    assert code == 200 and window["series"]["cpu"] == {"t": [3.0, 4.0, 5.0], "v": [4.5, 6.0, 7.5]}
    code, small = await vera("GET", path, params={"max_points": 4})
    assert code == 200 and small["downsampled"] is True
    assert all(len(s["t"]) == len(s["v"]) <= 4 for s in small["series"].values())

    for params, field in (
        ({"max_points": 1}, "max_points"),
        ({"max_points": "many"}, "max_points"),
        ({"start": "soon"}, "start"),
        ({"start": 5, "end": 4}, "end"),
    ):
        code, err = await vera("GET", path, params=params)
        assert code == 422 and err["field"] == field, params
    code, _ = await olga("GET", path)
    assert code == 404
    code, _ = await vera("GET", "/runs/nosuchrun/metrics")
    assert code == 404

    code, err = await vera("POST", path, {"samples": samples(range(20, 22))})
    assert code == 403
    code, _ = await olga("POST", path, {"samples": samples(range(20, 22))})
    assert code == 404
    for body in (
        {"samples": "cpu=1"},
        {"samples": [{"t": 1, "values": {"cpu": "high"}}]},
        {"samples": [{"t": "now", "values": {}}]},
        {},
    ):
        code, err = await bob("POST", path, body)
        assert code == 422 and err["field"] == "samples", body
    code, err = await bob("POST", path, raw=b'{"samples": [')
    assert code == 400 and err["error"] == "malformed"
    code, err = await bob(
        "POST", path, {"samples": [{"t": i, "values": {}} for i in range(10_001)]}
    )
    assert code == 413 and err["error"] == "too_large"

    code, _ = await bob("POST", f"/runs/{world['run']}/stop")
    assert code == 200
    code, err = await bob("POST", path, {"samples": samples(range(30, 31))})
    assert code == 409 and err["error"] == "conflict"


async def test_csv_export_and_markers(
    api_as: Any, jp_fetch: Any, world: dict[str, Any], backend: Backend
) -> None:
    bob, vera, olga = (api_as(world[n]) for n in ("bob", "vera", "olga"))
    run_id = world["run"]
    ingest.write_samples(backend, world["bob"], run_id, samples(range(1, 4)))
    actor: Actor = world["bob"]
    marker = markers.add_cell_marker(backend, actor, run_id, 7, "train(model)\nmore", 1.5)
    markers.end_cell_marker(backend, actor, run_id, marker["id"], 2.5, error=True)

    response = await jp_fetch(
        "labdeck",
        "api",
        "runs",
        run_id,
        "metrics.csv",
        headers={"Authorization": f"Bearer {vera.key}"},
    )
    assert response.code == 200
    assert f"{run_id}-metrics.csv" in response.headers["Content-Disposition"]
    lines = response.body.decode().splitlines()
    assert lines[0] == "t,cpu,mem" and lines[1] == "1.0,1.5,99.0" and len(lines) == 4
    code, _ = await olga("GET", f"/runs/{run_id}/metrics.csv")
    assert code == 404

    code, marks = await vera("GET", f"/runs/{run_id}/markers")
    assert code == 200 and len(marks) == 1
    assert marks[0]["execution_count"] == 7 and marks[0]["first_line"] == "train(model)"
    assert (marks[0]["start_t"], marks[0]["end_t"], marks[0]["error"]) == (1.5, 2.5, True)
    assert marks[0]["run_id"] == run_id
    code, _ = await olga("GET", f"/runs/{run_id}/markers")
    assert code == 404
    code, _ = await bob("GET", "/runs/nosuchrun/markers")
    assert code == 404
    # Last, so that every check above runs whatever this one finds.
    assert response.headers["Content-Type"].startswith("text/csv")
