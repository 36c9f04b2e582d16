"""The quota race over HTTP (issue 10, item 1): eight concurrent metric
writes, each through the server's own threads and connections, against a
team quota with room for one; many rounds, both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from http_calls import call
from sqlalchemy import select

from labdeck.backend import storage
from labdeck.backend.models import Team
from labdeck.backend.services import projects, runs, system, teams

ROUNDS, WRITERS, POINTS = 10, 8, 60


async def test_concurrent_writes_over_http_never_pass_the_quota(
    jp_fetch: Any, api_as: Any, make_user: Any, backend: Any
) -> None:
    passed: list[str] = []
    for r in range(ROUNDS):
        admin, team = make_user(f"adm{r}", admin=True), f"http-{r}"
        teams.create_team(backend, admin, team, "work", f"org-{r}")
        system.set_storage_quota(backend, admin, "team", team, storage.POINT_BYTES * 100)
        projects.create_project(backend, admin, team, "p")
        run_ids = [runs.create_run(backend, admin, team, "p")["id"] for _ in range(WRITERS)]
        key = api_as(admin).key
        body = {"samples": [{"t": float(i), "values": {"cpu": 1.0}} for i in range(POINTS)]}
        answers = await asyncio.gather(
            *(call(jp_fetch, key, "POST", f"/runs/{run_id}/metrics", body) for run_id in run_ids)
        )
        codes = sorted(a.code for a in answers)
        with backend.db.reader() as session:
            team_id = session.scalars(select(Team.id).where(Team.name == team)).one()
            used = storage.usage_for_team(session, team_id)
        if used > storage.POINT_BYTES * 100 or codes != [200] + [413] * (WRITERS - 1):
            passed.append(f"{used // storage.POINT_BYTES} points stored, answers {codes}")
    assert not passed, f"{len(passed)}/{ROUNDS} rounds passed the quota: {passed[:3]}"
