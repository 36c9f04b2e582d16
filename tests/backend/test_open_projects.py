"""An open project gives nobody more than its team's members have (F-TM-6,
F-TM-10): whatever an open project lets any signed-in account do there,
every member of its team may do there too, whatever their role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from labdeck.backend.access import subject_on_project
from labdeck.backend.context import Actor, Backend
from labdeck.backend.permissions import TABLE, TEAM_ROLES, Subject, allowed
from labdeck.backend.services import members, projects, reports, runs, teams

OUTSIDER, MEMBER, CREATOR, TEAM = 1, 2, 3, 9


@dataclass(frozen=True)
class OpenProject:
    """The facts `access.subject_on_project` reads of a project."""

    team_id: int | None = TEAM
    owner_id: int | None = None
    visibility: str = "open"
    created_by: int | None = CREATOR


@pytest.mark.parametrize("role", list(TEAM_ROLES))
@pytest.mark.parametrize("owns", [None, False, True])
def test_on_an_open_project_an_outsider_may_do_nothing_a_member_may_not(
    role: str, owns: bool | None
) -> None:
    outsider = subject_on_project(OUTSIDER, "user", None, OpenProject(), Subject())
    member = subject_on_project(MEMBER, "user", None, OpenProject(), Subject(team_role=role))
    assert outsider is not None and member is not None
    outsider, member = replace(outsider, owns=owns), replace(member, owns=owns)
    more = [action for action in TABLE if allowed(action, outsider) and not allowed(action, member)]
    assert more == []


def test_a_view_only_member_logs_where_an_outsider_may(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root, viewer, stranger = make_user("root", admin=True), make_user("vic"), make_user("sam")
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "vic", "view_only")
    projects.create_project(backend, root, "vision", "bench", visibility="open")
    for who in (stranger, viewer):
        run = runs.create_run(backend, who, "vision", "bench")
        assert run["state"] == "running"
        report = reports.create_report(backend, who, "vision", "bench", "results")
        assert report["title"] == "results"
