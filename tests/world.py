"""The test world that most areas share: team `acme` and its five people.

alice is acme's admin, bob and carol its members, vera its view-only member,
and olga is in no team (the outsider every "not visible" case needs). Tests
that meet other people or teams (a registry admin, a custom role) add them
to this world rather than build another.

The `acme` fixture (tests/conftest.py) is this world as rows; a module whose
world needs more (a project, a run, another member) builds on `acme_team`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from seed import add_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import members, teams

TEAM = "acme"
ORG = "acme-org"
ROLES = {"alice": "admin", "bob": "member", "carol": "member", "vera": "view_only"}
OUTSIDER = "olga"


def acme_team(
    backend: Backend,
    make_user: Callable[..., Actor],
    *,
    through_services: bool = False,
    more: Mapping[str, str] | None = None,
    registry_admins: tuple[str, ...] = (),
    **team_settings: Any,
) -> dict[str, Any]:
    """Team acme with its five people (and `more`: name → role), returned as
    name → `Actor`.

    By default the team is written as rows (`seed.add_team`, fast, alice a
    plain user account; `team_settings` are Team columns), and `team_id` is
    returned too. With
    `through_services` alice is an admin account who creates the team in
    organization `acme-org` and adds each member through the services, as
    the REST tests' worlds do."""
    roles = {**ROLES, **(more or {})}
    names = [*ROLES, *(more or {}), OUTSIDER]
    people: dict[str, Any] = {
        name: make_user(name, admin=through_services and name == "alice") for name in names
    }
    if through_services:
        assert not team_settings and not registry_admins, "seeded worlds only"
        teams.create_team(backend, people["alice"], TEAM, "work", ORG)
        for name, role in roles.items():
            if name != "alice":
                members.add_member(backend, people["alice"], TEAM, name, role)
        return people
    people["team_id"] = add_team(
        backend,
        TEAM,
        {people[name]: role for name, role in roles.items()},
        registry_admins=tuple(people[name] for name in registry_admins),
        **team_settings,
    )
    return people
