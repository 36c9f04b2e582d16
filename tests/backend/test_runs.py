"""Runs: who may start, see, edit, stop, move, delete and end them; service
accounts (F-TM-6); the stale-heartbeat reaper claiming each run once."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from seed import add_service_account, add_team
from sqlalchemy import select, update
from statements import statements
from world import acme_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.db import Database
from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import (
    Alert,
    Notification,
    Run,
    User,
    utcnow,
)
from labdeck.backend.services import ingest, projects, runs


def run_rows(backend: Backend) -> list[tuple[Any, ...]]:
    with backend.db.reader() as s:
        return sorted(tuple(r) for r in s.execute(select(Run.__table__)).all())


def alerts(backend: Backend) -> list[tuple[str | None, str]]:
    with backend.db.reader() as s:
        return sorted((a.run_id, a.event) for a in s.scalars(select(Alert)))


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Actor]:
    people = acme_team(backend, make_user, code_saving_default=True)
    projects.create_project(backend, people["alice"], "acme", "vision")
    projects.create_project(backend, people["alice"], "acme", "audio")
    return people


def test_create_run_view(backend: Backend, world: dict[str, Actor]) -> None:
    run = runs.create_run(
        backend, world["bob"], "acme", "vision", config={"lr": 0.1}, system={"cpu_max": 2.0}
    )
    assert re.fullmatch(r"[0-9a-z]{8}", run["id"])
    assert re.fullmatch(r"[a-z]+-[a-z]+-1", run["name"])
    assert run["entity"] == "acme" and run["project"] == "vision"
    assert run["state"] == "running" and run["ended_at"] is None
    assert run["created_by"] == "bob" and run["logged_by"] == "bob"
    assert run["config"] == {"lr": 0.1, "_labdeck": {"code_saving": True}}
    assert run["system"] == {"cpu_max": 2.0}
    assert run["created_at"] and run["heartbeat_at"]
    assert runs.get_run(backend, world["vera"], run["id"]) == run
    second = runs.create_run(backend, world["bob"], "acme", "vision", name="  named  ")
    assert second["name"] == "named"
    personal = projects.create_project(backend, world["bob"], "bob", "mine")
    mine = runs.create_run(backend, world["bob"], "bob", personal["name"])
    assert mine["config"] == {"_labdeck": {"code_saving": False}}


def test_who_may_log(backend: Backend, world: dict[str, Actor]) -> None:
    with pytest.raises(Forbidden, match="log experiments"):
        runs.create_run(backend, world["vera"], "acme", "vision")
    with pytest.raises(NotFound):
        runs.create_run(backend, world["olga"], "acme", "vision")
    projects.create_project(backend, world["alice"], "acme", "public", visibility="open")
    outsider = runs.create_run(backend, world["olga"], "acme", "public")
    assert outsider["created_by"] == "olga"
    # the outsider sees that run, but no other project's
    assert runs.get_run(backend, world["olga"], outsider["id"])["id"] == outsider["id"]
    inside = runs.create_run(backend, world["bob"], "acme", "vision")
    with pytest.raises(NotFound):
        runs.get_run(backend, world["olga"], inside["id"])


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"config": {"_labdeck": {"code_saving": False}}}, "config"),
        ({"config": {"x": float("nan")}}, "config"),
        ({"config": {"x": {1, 2}}}, "config"),
        ({"config": [1, 2]}, "config"),
        ({"system": "linux"}, "system"),
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": 7}, "name"),
        ({"attribute_to": "carol"}, "attribute_to"),
    ],
)
def test_bad_run_input_changes_nothing(
    backend: Backend, world: dict[str, Actor], kwargs: dict[str, Any], field: str
) -> None:
    before = run_rows(backend)
    with pytest.raises(Invalid) as err:
        runs.create_run(backend, world["bob"], "acme", "vision", **kwargs)
    assert err.value.field == field
    assert run_rows(backend) == before


def test_service_account_logging(backend: Backend, world: dict[str, Actor], make_user: Any) -> None:
    team_id = add_team(backend, "robots", {world["carol"]: "admin", world["bob"]: "member"})
    bot = add_service_account(backend, team_id, "robots-ci")
    projects.create_project(backend, world["carol"], "robots", "nightly")
    projects.create_project(backend, world["carol"], "robots", "hidden", visibility="private")
    # its own team's projects, private ones included
    assert runs.create_run(backend, bot, "robots", "hidden")["created_by"] == "robots-ci"
    plain = runs.create_run(backend, bot, "robots", "nightly")
    assert plain["created_by"] == "robots-ci" and plain["logged_by"] == "robots-ci"
    by_name = runs.create_run(backend, bot, "robots", "nightly", attribute_to="BOB")
    assert by_name["created_by"] == "bob" and by_name["logged_by"] == "robots-ci"
    by_mail = runs.create_run(backend, bot, "robots", "nightly", attribute_to="carol@example.org")
    assert by_mail["created_by"] == "carol"
    before = run_rows(backend)
    # not a member of its team, unknown, or another service account: refused alike
    make_user("stranger")
    for who in ("stranger", "nobody", "nobody@example.org", "robots-ci", "vera@example.org"):
        with pytest.raises(Invalid) as err:
            runs.create_run(backend, bot, "robots", "nightly", attribute_to=who)
        assert err.value.field == "attribute_to"
    # another team's projects: never a private/team one, an open one yes
    with pytest.raises(NotFound):
        runs.create_run(backend, bot, "acme", "vision")
    assert run_rows(backend) == before
    projects.create_project(backend, world["alice"], "acme", "public", visibility="open")
    assert runs.create_run(backend, bot, "acme", "public")["project"] == "public"
    # the attributed member owns the run: it may delete it, another member not
    with pytest.raises(Forbidden, match="delete experiments"):
        runs.delete_run(backend, world["bob"], by_mail["id"])
    runs.delete_run(backend, world["bob"], by_name["id"])


def test_a_person_cannot_attribute_runs(backend: Backend, world: dict[str, Actor]) -> None:
    mine = runs.create_run(backend, world["bob"], "acme", "vision", attribute_to="bob")
    assert mine["created_by"] == "bob"
    with pytest.raises(Invalid):
        runs.create_run(backend, world["bob"], "acme", "vision", attribute_to="alice")


def test_list_runs_pages_with_a_fixed_query_count(
    backend: Backend, world: dict[str, Actor]
) -> None:
    made = [runs.create_run(backend, world["bob"], "acme", "vision")["id"] for _ in range(7)]
    runs.create_run(backend, world["bob"], "acme", "audio")
    seen: list[str] = []
    cursor = None
    while True:
        page = runs.list_runs(backend, world["vera"], "acme", "vision", limit=3, cursor=cursor)
        assert len(page["items"]) <= 3
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    with statements(backend.db.engine) as few:
        runs.list_runs(backend, world["vera"], "acme", "vision", limit=2)
    with statements(backend.db.engine) as many:
        runs.list_runs(backend, world["vera"], "acme", "vision", limit=50)
    assert len(few) == len(many)
    with pytest.raises(Invalid) as err:
        runs.list_runs(backend, world["bob"], "acme", "vision", cursor="garbage!")
    assert err.value.field == "cursor"
    with pytest.raises(NotFound):
        runs.list_runs(backend, world["olga"], "acme", "vision")


def test_patch_run(backend: Backend, world: dict[str, Actor]) -> None:
    run = runs.create_run(backend, world["bob"], "acme", "vision", config={"a": 1})
    view = runs.patch_run(
        backend, world["carol"], run["id"], {"name": "better", "notes": "hi", "config": {"b": 2}}
    )
    assert view["name"] == "better" and view["notes"] == "hi"
    assert view["config"] == {"b": 2, "_labdeck": {"code_saving": True}}
    with pytest.raises(Forbidden, match="edit experiment panels and workspaces"):
        runs.patch_run(backend, world["vera"], run["id"], {"notes": "x"})
    before = run_rows(backend)
    for changes, field in (
        ({"state": "finished"}, "state"),
        ({"config": {"_labdeck": {}}}, "config"),
        ({"name": ""}, "name"),
    ):
        with pytest.raises(Invalid) as err:
            runs.patch_run(backend, world["bob"], run["id"], changes)
        assert err.value.field == field
    assert run_rows(backend) == before


def test_delete_own_rule(backend: Backend, world: dict[str, Actor]) -> None:
    bobs = runs.create_run(backend, world["bob"], "acme", "vision")
    for who in ("carol", "vera"):
        with pytest.raises(Forbidden, match="delete experiments"):
            runs.delete_run(backend, world[who], bobs["id"])
    runs.delete_run(backend, world["bob"], bobs["id"])
    other = runs.create_run(backend, world["carol"], "acme", "vision")
    runs.delete_run(backend, world["alice"], other["id"])
    assert run_rows(backend) == []
    with pytest.raises(NotFound):
        runs.get_run(backend, world["bob"], bobs["id"])


def test_stop_run_alerts_once(backend: Backend, world: dict[str, Actor]) -> None:
    run = runs.create_run(backend, world["bob"], "acme", "vision")
    with pytest.raises(Forbidden, match="stop experiments"):
        runs.stop_run(backend, world["carol"], run["id"])
    stopped = runs.stop_run(backend, world["bob"], run["id"])
    assert stopped["state"] == "finished" and stopped["ended_at"]
    with pytest.raises(Conflict):
        runs.stop_run(backend, world["alice"], run["id"])
    assert alerts(backend) == [(run["id"], "run_finished")]
    with backend.db.reader() as s:
        mail = s.scalars(select(Notification)).all()
    assert [(m.recipient, m.kind) for m in mail] == [("bob@example.org", "alert_run_finished")]


def test_move_run(backend: Backend, world: dict[str, Actor]) -> None:
    run = runs.create_run(backend, world["bob"], "acme", "vision")
    with pytest.raises(Forbidden, match="delete experiments"):
        runs.move_run(backend, world["carol"], run["id"], "acme", "audio")
    with pytest.raises(NotFound):
        runs.move_run(backend, world["bob"], run["id"], "acme", "nowhere")
    for entity, project, field in ((5, "audio", "entity"), ("acme", ["audio"], "project")):
        with pytest.raises(Invalid) as err:
            runs.move_run(backend, world["bob"], run["id"], entity, project)  # type: ignore[arg-type]
        assert err.value.field == field
    projects.create_project(backend, world["carol"], "carol", "private-stash")
    with pytest.raises(NotFound):
        runs.move_run(backend, world["bob"], run["id"], "carol", "private-stash")
    moved = runs.move_run(backend, world["bob"], run["id"], "acme", "audio")
    assert moved["project"] == "audio" and moved["created_by"] == "bob"
    # "own" still means the creator after the move
    with pytest.raises(Forbidden, match="delete experiments"):
        runs.delete_run(backend, world["carol"], run["id"])
    # arriving needs "log experiments" on the target
    team_id = add_team(backend, "lab", {world["alice"]: "admin", world["bob"]: "view_only"})
    assert team_id
    projects.create_project(backend, world["alice"], "lab", "results")
    with pytest.raises(Forbidden, match="log experiments"):
        runs.move_run(backend, world["bob"], run["id"], "lab", "results")
    assert runs.get_run(backend, world["bob"], run["id"])["project"] == "audio"
    runs.delete_run(backend, world["bob"], run["id"])


def test_heartbeat_and_end(backend: Backend, world: dict[str, Actor]) -> None:
    run = runs.create_run(backend, world["bob"], "acme", "vision")
    beat = ingest.heartbeat(backend, world["bob"], run["id"])
    assert beat["state"] == "running" and beat["heartbeat_at"] >= run["heartbeat_at"]
    for who in ("carol", "alice"):
        with pytest.raises(Forbidden):
            ingest.heartbeat(backend, world[who], run["id"])
        with pytest.raises(Forbidden):
            runs.end_run(backend, world[who], run["id"], "finished")
    with pytest.raises(NotFound):
        ingest.heartbeat(backend, world["olga"], run["id"])
    with pytest.raises(Invalid) as err:
        runs.end_run(backend, world["bob"], run["id"], "exploded")
    assert err.value.field == "state"
    with pytest.raises(Invalid):
        runs.end_run(backend, world["bob"], run["id"], "crashed", dt.datetime(2020, 1, 1))
    with pytest.raises(Invalid):
        runs.end_run(
            backend,
            world["bob"],
            run["id"],
            "crashed",
            dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
        )
    assert alerts(backend) == []
    ended = runs.end_run(backend, world["bob"], run["id"], "crashed")
    assert ended["state"] == "crashed" and ended["ended_at"]
    with pytest.raises(Conflict):
        runs.end_run(backend, world["bob"], run["id"], "finished")
    with pytest.raises(Conflict):
        ingest.heartbeat(backend, world["bob"], run["id"])
    assert runs.get_run(backend, world["bob"], run["id"])["state"] == "crashed"
    assert alerts(backend) == [(run["id"], "run_crashed")]


def test_deleted_creator_label(backend: Backend, world: dict[str, Actor]) -> None:
    run = runs.create_run(backend, world["carol"], "acme", "vision")
    with backend.db.transaction() as s:
        s.execute(update(User).where(User.id == world["carol"].user_id).values(deleted=True))
    label = f"deleted-user-{world['carol'].user_id}"
    view = runs.get_run(backend, world["bob"], run["id"])
    assert view["created_by"] == label and view["logged_by"] == label
    listed = runs.list_runs(backend, world["bob"], "acme", "vision")["items"]
    assert listed[0]["created_by"] == label


def _age(backend: Backend, run_id: str, seconds: float) -> None:
    with backend.db.transaction() as s:
        s.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(heartbeat_at=utcnow() - dt.timedelta(seconds=seconds))
        )


def test_reaper_marks_stale_runs(backend: Backend, world: dict[str, Actor]) -> None:
    stale = runs.create_run(backend, world["bob"], "acme", "vision")
    fresh = runs.create_run(backend, world["bob"], "acme", "vision")
    done = runs.create_run(backend, world["bob"], "acme", "vision")
    runs.stop_run(backend, world["bob"], done["id"])
    _age(backend, stale["id"], 600)
    _age(backend, done["id"], 600)
    cutoff = utcnow() - dt.timedelta(seconds=120)
    assert runs.reap_stale_runs(backend, cutoff) == [stale["id"]]
    assert runs.reap_stale_runs(backend, cutoff) == []
    view = runs.get_run(backend, world["bob"], stale["id"])
    assert view["state"] == "crashed" and view["ended_at"] == view["heartbeat_at"]
    assert runs.get_run(backend, world["bob"], fresh["id"])["state"] == "running"
    assert alerts(backend) == sorted([(done["id"], "run_finished"), (stale["id"], "run_crashed")])
    with pytest.raises(Invalid):
        runs.reap_stale_runs(backend, dt.datetime(2020, 1, 1))


def test_two_reapers_claim_each_run_once(
    backend: Backend, world: dict[str, Actor], database_url: str
) -> None:
    ids = [runs.create_run(backend, world["bob"], "acme", "vision")["id"] for _ in range(6)]
    for run_id in ids:
        _age(backend, run_id, 600)
    cutoff = utcnow() - dt.timedelta(seconds=60)
    servers = [Backend(Database(database_url), backend.settings) for _ in range(4)]
    results: list[list[str]] = []
    barrier = threading.Barrier(len(servers))

    def sweep(server: Backend) -> None:
        barrier.wait()
        results.append(runs.reap_stale_runs(server, cutoff))

    threads = [threading.Thread(target=sweep, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for server in servers:
        server.db.dispose()
    claimed = [run_id for result in results for run_id in result]
    assert sorted(claimed) == sorted(ids)
    assert alerts(backend) == sorted((run_id, "run_crashed") for run_id in ids)
