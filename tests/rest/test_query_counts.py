"""No N+1 on the paginated lists: a page costs a fixed handful of SQL
statements, the same for a short list as for a long one.

The statements are counted with SQLAlchemy's `before_cursor_execute` event on
the engine of the server that answers the request (`labdeck_backend`), while
one request is served; seeding goes through the test's own `backend`, a
different engine, so it is never counted. Both engines (SQLite file and
PostgreSQL).

What one request costs, besides the list itself (measured, and pinned below):
- authentication by API key: one SELECT of the key and its owner
  (`identity.authenticate_key`) the first time, which also stamps
  `last_used_at`; then the server's key cache (`keycache.py`,
  `api_key_cache_seconds`) answers for the key with no statement, so each
  test sends a warm-up request before counting and counts none;
- on SQLite, a `BEGIN` (or `BEGIN IMMEDIATE` for a writing unit of work) per
  transaction: labdeck starts SQLite transactions itself
  (`db._sqlite_begin`). PostgreSQL begins implicitly; COMMIT is never a
  cursor statement on either engine. `queries` below leaves these out.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from permission_world import PROJECT, TEAM, World, build_world
from sqlalchemy import Engine
from statements import statements

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import (
    artifacts,
    identity,
    invitations,
    members,
    reports,
    runs,
)

# Statements of one request for a page of up to 100 items, leaving out the
# SQLite BEGINs, as measured: the caller, the team and the caller's
# membership (and, for the project lists, the project first), then the page
# with its batched lookups: members 2 (the page joined to emails, custom roles
# and organization access; pending invitations), runs 1 (joined to creator and
# logger), artifacts 2 (versions with creators; aliases), reports 4 (reports;
# creators; followers; comments).
MAX_QUERIES = {"members": 5, "runs": 5, "artifacts": 6, "reports": 8}
# On SQLite, one BEGIN per unit of work: the list itself (the key is cached).
MAX_BEGINS = 1
_BEGIN = re.compile(r"^\s*BEGIN\b", re.IGNORECASE)
_AUTH = re.compile(r"\bapi_keys\b", re.IGNORECASE)

# Measured counts, for the report of the issue: endpoint -> engine -> size -> counts.
QUERY_COUNTS: dict[str, dict[str, dict[int, dict[str, int]]]] = {}


async def measure(api: Any, engine: Engine, path: str, **params: Any) -> tuple[dict[str, int], Any]:
    with statements(engine) as seen:
        code, body = await api("GET", path, params=params)
    assert code == 200, body
    counts = {
        "statements": len(seen),
        "queries": sum(1 for s in seen if not _BEGIN.match(s)),
        "auth": sum(1 for s in seen if _AUTH.search(s)),
    }
    return counts, body


def record(endpoint: str, engine: Engine, size: int, counts: dict[str, int]) -> None:
    QUERY_COUNTS.setdefault(endpoint, {}).setdefault(engine.dialect.name, {})[size] = counts
    print(f"\n{endpoint} on {engine.dialect.name}, {size} items: {counts}")


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """The server's deliverer looks at the outbox every few seconds on the
    same engine; counted with a request, its statements made the counts
    flaky. Delivery is off in these servers (`delivery_interval` 0)."""
    labdeck = {**jp_server_config["LabdeckApp"], "delivery_interval": 0.0}
    return {**jp_server_config, "LabdeckApp": labdeck}


@pytest.fixture
def world(backend: Backend) -> World:
    return build_world(backend)


@pytest.fixture
def engine(labdeck_backend: Backend) -> Engine:
    return labdeck_backend.db.engine


def add_members(backend: Backend, w: World, count: int, start: int) -> None:
    for i in range(start, start + count):
        name = f"user{i:03d}"
        identity.create_user(backend, name, email=f"{name}@example.org")
        # Every third member holds the organization's custom role (one more join).
        members.add_member(backend, w.ta, TEAM, name, "auditor" if i % 3 == 0 else "member")


async def check_flat(
    endpoint: str,
    api: Any,
    engine: Engine,
    path: str,
    grow: Any,
    small: int,
    large: int,
    page_len: Any,
) -> None:
    """Measure a first page of `limit=100` at `small` items, grow to `large`,
    measure again: the same statements, at most MAX_QUERIES of them."""
    await api("GET", path)  # warm-up: the key's last_used_at stamp, and the key cached
    small_counts, body = await measure(api, engine, path, limit=100)
    assert page_len(body) == small
    record(endpoint, engine, small, small_counts)
    grow()
    large_counts, body = await measure(api, engine, path, limit=100)
    assert page_len(body) == 100 and body["next_cursor"]
    record(endpoint, engine, large, large_counts)
    assert large_counts == small_counts
    assert small_counts["auth"] == 0, "the key cache answers for a key used a moment ago"
    assert small_counts["queries"] <= MAX_QUERIES[endpoint]
    assert small_counts["statements"] - small_counts["queries"] <= MAX_BEGINS
    # The next page costs no more than the first one.
    next_counts, body = await measure(api, engine, path, limit=100, cursor=body["next_cursor"])
    assert page_len(body) == large - 100
    assert next_counts["queries"] <= small_counts["queries"]


async def test_members_page_is_flat(
    api_as: Any, backend: Backend, world: World, engine: Engine
) -> None:
    # build_world leaves 5 people in the team; with these, 10.
    add_members(backend, world, 5, 0)
    invitations.invite(backend, world.ta, TEAM, "guest@example.org", "member")
    invitations.invite(backend, world.ta, TEAM, "other@example.org", "view_only")

    await check_flat(
        "members",
        api_as(world.ta),
        engine,
        f"/teams/{TEAM}/members",
        lambda: add_members(backend, world, 145, 5),
        10,
        155,
        lambda body: len(body["items"]),
    )


def _runs(backend: Backend, people: list[Actor], count: int) -> None:
    for i in range(count):
        runs.create_run(backend, people[i % len(people)], TEAM, PROJECT, name=f"run{i}")


async def test_runs_page_is_flat(
    api_as: Any, backend: Backend, world: World, engine: Engine
) -> None:
    people = [world.ta, world.mem, world.mem2]
    _runs(backend, people, 10)
    await check_flat(
        "runs",
        api_as(world.va),
        engine,
        f"/projects/{TEAM}/{PROJECT}/runs",
        lambda: _runs(backend, people, 110),
        10,
        120,
        lambda body: len(body["items"]),
    )


def _artifacts(backend: Backend, w: World, count: int) -> None:
    for i in range(count):
        made = artifacts.create_artifact(
            backend,
            w.mem if i % 2 else w.ta,
            TEAM,
            PROJECT,
            {"name": f"data{i % 7}", "type": "dataset", "metadata": {"i": i}},
            [(f"part{i}.txt", b"x" * (i + 1))],
        )
        if i % 5 == 0:
            artifacts.put_alias(backend, w.ta, made["id"], f"pick{i}")


async def test_artifacts_page_is_flat(
    api_as: Any, backend: Backend, world: World, engine: Engine
) -> None:
    _artifacts(backend, world, 9)  # build_world made one already
    await check_flat(
        "artifacts",
        api_as(world.va),
        engine,
        f"/projects/{TEAM}/{PROJECT}/artifacts",
        lambda: _artifacts(backend, world, 110),
        10,
        120,
        lambda body: len(body["items"]),
    )


def _reports(backend: Backend, w: World, count: int) -> None:
    for i in range(count):
        author = (w.ta, w.mem, w.mem2)[i % 3]
        made = reports.create_report(backend, author, TEAM, PROJECT, f"report {i}", "body")
        reports.follow_report(backend, w.va, made["id"])
        reports.comment_report(backend, w.mem, made["id"], f"comment {i}")


async def test_reports_page_is_flat(
    api_as: Any, backend: Backend, world: World, engine: Engine
) -> None:
    _reports(backend, world, 10)
    await check_flat(
        "reports",
        api_as(world.va),
        engine,
        f"/projects/{TEAM}/{PROJECT}/reports",
        lambda: _reports(backend, world, 110),
        10,
        120,
        lambda body: len(body["items"]),
    )
