"""REST: projects of an entity, and the runs of a project."""

from __future__ import annotations

from typing import Any

import pytest
from world import acme_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import projects

PROJECT_FIELDS = {"entity", "name", "visibility", "created_by"}
RUN_FIELDS = {
    "id",
    "entity",
    "project",
    "name",
    "state",
    "created_by",
    "created_at",
    "ended_at",
    "heartbeat_at",
    "config",
}


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Actor]:
    """Team acme: alice admin, bob and carol members, vera view-only; olga is
    an outsider. bob's project acme/vision (visible to the team)."""
    people = acme_team(backend, make_user, through_services=True)
    projects.create_project(backend, people["bob"], "acme", "vision", "team")
    return people


async def test_projects_over_http(api_as: Any, world: dict[str, Actor]) -> None:
    bob, vera, olga, alice = (api_as(world[n]) for n in ("bob", "vera", "olga", "alice"))
    code, hidden = await alice(
        "POST", "/projects/acme", {"name": "secret", "visibility": "private"}
    )
    assert code == 201 and hidden["visibility"] == "private"

    code, made = await bob("POST", "/projects/acme", {"name": "Speech", "visibility": "team"})
    assert code == 201 and PROJECT_FIELDS <= set(made)
    assert (made["entity"], made["name"], made["visibility"]) == ("acme", "Speech", "team")
    assert made["created_by"] == "bob"
    code, err = await bob("POST", "/projects/acme", {"name": "speech"})
    assert code == 409 and err["error"] == "conflict" and err["field"] == "name"
    code, err = await bob("POST", "/projects/acme", {"name": "x", "visibility": "secret"})
    assert code == 422 and err["field"] == "visibility"
    code, err = await bob("POST", "/projects/acme", {"visibility": "open"})
    assert code == 422 and err["field"] == "name"
    code, err = await bob("POST", "/projects/acme", raw=b"[1, 2")
    assert code == 400 and err["error"] == "malformed"
    code, err = await vera("POST", "/projects/acme", {"name": "mine"})
    assert code == 403 and "create projects" in err["message"]
    code, _ = await bob("POST", "/projects/nobody-here", {"name": "x"})
    assert code == 404

    code, listed = await bob("GET", "/projects/acme")
    assert code == 200 and [p["name"] for p in listed] == ["Speech", "vision"]
    assert all(PROJECT_FIELDS <= set(p) for p in listed)
    # An outsider sees no private or team project, and not that they exist.
    code, _ = await olga("GET", "/projects/acme")
    assert code == 404
    code, _ = await olga("GET", "/projects/acme/vision")
    assert code == 404

    code, one = await vera("GET", "/projects/acme/vision")
    assert code == 200 and one["name"] == "vision" and one["visibility"] == "team"
    # A private project is seen by its creator and the team's admins only.
    code, _ = await bob("GET", "/projects/acme/secret")
    assert code == 404
    code, changed = await bob(
        "PATCH", "/projects/acme/Speech", {"description": "ASR", "visibility": "open"}
    )
    assert code == 200 and changed["visibility"] == "open" and changed["description"] == "ASR"
    code, listed = await olga("GET", "/projects/acme")
    assert code == 200 and [p["name"] for p in listed] == ["Speech"]
    code, err = await vera("PATCH", "/projects/acme/Speech", {"description": "mine"})
    assert code == 403
    code, err = await bob("PATCH", "/projects/acme/Speech", {"owner": "me"})
    assert code == 422
    code, err = await bob("PATCH", "/projects/acme/Speech", {"visibility": 3})
    assert code == 422 and err["field"] == "visibility"

    code, err = await bob("DELETE", "/projects/acme/Speech")
    assert code == 403 and "delete projects" in err["message"]
    code, _ = await alice("DELETE", "/projects/acme/Speech")
    assert code == 204
    code, _ = await alice("GET", "/projects/acme/Speech")
    assert code == 404
    code, _ = await olga("DELETE", "/projects/acme/vision")
    assert code == 404


async def test_runs_over_http(api_as: Any, world: dict[str, Actor], backend: Backend) -> None:
    bob, carol, vera, olga = (api_as(world[n]) for n in ("bob", "carol", "vera", "olga"))
    projects.create_project(backend, world["bob"], "acme", "other")
    base = "/projects/acme/vision/runs"

    code, run = await bob("POST", base, {"name": "first", "config": {"lr": 0.1}})
    assert code == 201 and RUN_FIELDS <= set(run)
    assert (run["entity"], run["project"], run["name"]) == ("acme", "vision", "first")
    assert run["state"] == "running" and run["created_by"] == "bob"
    assert run["ended_at"] is None and run["config"]["lr"] == 0.1
    rid = run["id"]
    code, err = await bob("POST", base, {"config": "lr=1"})
    assert code == 422 and err["field"] == "config"
    code, err = await vera("POST", base, {"name": "x"})
    assert code == 403 and "log experiments" in err["message"]
    code, _ = await olga("POST", base, {"name": "x"})
    assert code == 404

    for _ in range(2):
        code, _ = await carol("POST", base, {})
        assert code == 201
    code, page = await vera("GET", base, params={"limit": 2})
    assert code == 200 and len(page["items"]) == 2 and page["next_cursor"]
    assert all(RUN_FIELDS <= set(r) for r in page["items"])
    code, rest = await vera("GET", base, params={"limit": 2, "cursor": page["next_cursor"]})
    assert code == 200 and rest["next_cursor"] is None
    assert [r["id"] for r in rest["items"]] == [rid]
    code, err = await vera("GET", base, params={"limit": 0})
    assert code == 422 and err["field"] == "limit"
    code, err = await vera("GET", base, params={"cursor": "!!"})
    assert code == 422 and err["field"] == "cursor"
    code, _ = await olga("GET", base)
    assert code == 404

    code, got = await vera("GET", f"/runs/{rid}")
    assert code == 200 and got["id"] == rid and RUN_FIELDS <= set(got)
    code, _ = await olga("GET", f"/runs/{rid}")
    assert code == 404
    code, _ = await bob("GET", "/runs/nosuchrun")
    assert code == 404

    code, edited = await carol("PATCH", f"/runs/{rid}", {"notes": "warmup", "name": "renamed"})
    assert code == 200 and edited["notes"] == "warmup" and edited["name"] == "renamed"
    code, err = await vera("PATCH", f"/runs/{rid}", {"notes": "x"})
    assert code == 403
    code, err = await bob("PATCH", f"/runs/{rid}", {"state": "finished"})
    assert code == 422

    code, err = await carol("POST", f"/runs/{rid}/stop")
    assert code == 403 and "stop experiments" in err["message"]
    code, stopped = await bob("POST", f"/runs/{rid}/stop")
    assert code == 200 and stopped["state"] == "finished" and stopped["ended_at"]
    code, err = await bob("POST", f"/runs/{rid}/stop")
    assert code == 409 and err["error"] == "conflict"

    code, moved = await bob("POST", f"/runs/{rid}/move", {"entity": "acme", "project": "other"})
    assert code == 200 and moved["project"] == "other" and moved["created_by"] == "bob"
    code, err = await bob("POST", f"/runs/{rid}/move", {"entity": "acme"})
    assert code == 422 and err["field"] == "project"
    code, err = await bob("POST", f"/runs/{rid}/move", {"entity": 5, "project": "vision"})
    assert code == 422 and err["field"] == "entity"
    code, _ = await bob("POST", f"/runs/{rid}/move", {"entity": "acme", "project": "nope"})
    assert code == 404
    code, _ = await carol("POST", f"/runs/{rid}/move", {"entity": "acme", "project": "vision"})
    assert code == 403

    code, _ = await vera("DELETE", f"/runs/{rid}")
    assert code == 403
    code, _ = await bob("DELETE", f"/runs/{rid}")
    assert code == 204
    code, _ = await bob("GET", f"/runs/{rid}")
    assert code == 404
