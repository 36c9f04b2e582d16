"""The write path decides from one joined row (services/ingest.py); every
other call loads the same facts through the ORM (`runs.load_run`,
`access.project_access`). This checks, cell by cell, that both decide alike:
every account of a varied world against every run in it, for a metrics
write and for a heartbeat."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from seed import add_service_account

from labdeck.backend.access import actor_user
from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import LabdeckError
from labdeck.backend.models import Membership, Team
from labdeck.backend.services import (
    account,
    identity,
    ingest,
    members,
    orgs,
    projects,
    runs,
    teams,
)
from labdeck.backend.services.runs import load_run, require_logger, require_running


def _orm_outcome(backend: Backend, actor: Actor, run_id: Any, action: str | None) -> str:
    """What the ORM loaders decide for the same call."""
    try:
        with backend.db.reader() as session:
            user = actor_user(session, actor)
            run, found = load_run(session, user, run_id)
            require_logger(run, user.id, "write")
            if action is not None:
                found.require(action, user)
            require_running(run, "write")
    except LabdeckError as exc:
        return type(exc).__name__
    return "ok"


def _ingest_outcome(backend: Backend, actor: Actor, run_id: Any, heartbeat: bool) -> str:
    try:
        if heartbeat:
            ingest.heartbeat(backend, actor, run_id)
        else:
            ingest.write_samples(backend, actor, run_id, [])
    except LabdeckError as exc:
        return type(exc).__name__
    return "ok"


def _world(backend: Backend) -> tuple[dict[str, Actor], dict[tuple[str, str], str]]:
    """Accounts of every kind, projects of every visibility, and a run logged
    by each account wherever it may log; then changes made after the runs
    started (a demotion, a project made private, a custom role, an ended
    run, a deleted account)."""
    names = ("boss", "ta", "mem", "mem2", "va", "aud", "dem", "pat", "out", "oth", "gone")
    people = {
        n: identity.create_user(backend, n, admin=n == "boss", email=f"{n}@example.org")
        for n in names
    }
    teams.create_team(backend, people["boss"], "acme", "work", "acmeorg")
    teams.create_team(backend, people["boss"], "beta", "work", "betaorg")
    for name, role in (
        ("ta", "admin"),
        ("mem", "member"),
        ("mem2", "member"),
        ("va", "view_only"),
        ("aud", "member"),
        ("dem", "member"),
        ("gone", "member"),
    ):
        members.add_member(backend, people["boss"], "acme", name, role)
    members.add_member(backend, people["boss"], "beta", "oth", "member")
    members.set_registry_admin(backend, people["boss"], "acme", "mem2", True)
    with backend.db.reader() as session:
        acme = session.query(Team).filter_by(name="acme").one().id
    people["svc"] = add_service_account(backend, acme, "acme.bot")
    people["svc_bare"] = add_service_account(backend, acme, "acme.bare")
    with backend.db.transaction() as session:
        session.query(Membership).filter_by(user_id=people["svc_bare"].user_id).delete()
    for name, visibility in (("shared", "team"), ("secret", "private"), ("public", "open")):
        projects.create_project(backend, people["mem"], "acme", name, visibility)
    projects.create_project(backend, people["ta"], "acme", "closing", "team")
    projects.create_project(backend, people["oth"], "beta", "theirs", "open")
    projects.create_project(backend, people["pat"], "pat", "mine", "private")
    projects.create_project(backend, people["pat"], "pat", "shown", "open")
    places = [
        ("acme", "shared"),
        ("acme", "secret"),
        ("acme", "public"),
        ("acme", "closing"),
        ("beta", "theirs"),
        ("pat", "mine"),
        ("pat", "shown"),
    ]
    made: dict[tuple[str, str], str] = {}
    for (who, actor), (entity, project) in itertools.product(people.items(), places):
        try:
            made[who, project] = runs.create_run(backend, actor, entity, project)["id"]
        except LabdeckError:
            continue
    orgs.create_custom_role(
        backend, people["boss"], "acmeorg", "auditor", "view_only", ["log experiments"]
    )
    members.change_role(backend, people["ta"], "acme", "aud", "auditor")
    members.change_role(backend, people["ta"], "acme", "dem", "view_only")
    projects.patch_project(backend, people["ta"], "acme", "closing", {"visibility": "private"})
    runs.end_run(backend, people["mem"], made["mem", "shared"], "finished")
    account.delete_account(backend, people["gone"], "gone")
    return people, made


@pytest.mark.parametrize("heartbeat", [False, True], ids=["write_samples", "heartbeat"])
def test_one_row_authorization_decides_like_the_orm_loaders(
    backend: Backend, heartbeat: bool
) -> None:
    people, made = _world(backend)
    run_ids = [*made.values(), "nosuchrun", "x" * 40, 12, None]
    action = None if heartbeat else "log experiments"
    outcomes: dict[str, int] = {}
    for (who, actor), run_id in itertools.product(people.items(), run_ids):
        expected = _orm_outcome(backend, actor, run_id, action)
        got = _ingest_outcome(backend, actor, run_id, heartbeat)
        assert got == expected, f"{who} on run {run_id!r}: ingest {got}, ORM loaders {expected}"
        outcomes[expected] = outcomes.get(expected, 0) + 1
    # The world reaches every answer, so agreement is not agreement on one outcome.
    assert set(outcomes) == {"ok", "NotFound", "Forbidden", "Conflict", "Unauthenticated"}
    # Two logging creators whom only the permission check tells apart.
    demoted, auditor = made["dem", "shared"], made["aud", "shared"]
    assert _ingest_outcome(backend, people["dem"], demoted, heartbeat) == (
        "ok" if heartbeat else "Forbidden"
    )
    assert _ingest_outcome(backend, people["aud"], auditor, heartbeat) == "ok"
