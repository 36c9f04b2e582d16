"""Fast, direct seeding for backend tests: a team with members (and registry
admins), a service account, written as rows the way the services would."""

from __future__ import annotations

from typing import Any

from labdeck.backend.context import Actor, Backend
from labdeck.backend.models import Membership, Organization, Team, User


def add_team(
    backend: Backend,
    name: str,
    members: dict[Actor, str],
    registry_admins: tuple[Actor, ...] = (),
    **settings: Any,
) -> int:
    with backend.db.transaction() as s:
        org = Organization(name=f"{name}-org")
        s.add(org)
        s.flush()
        team = Team(name=name, type="work", org_id=org.id, **settings)
        s.add(team)
        s.flush()
        for actor, role in members.items():
            s.add(
                Membership(
                    team_id=team.id,
                    user_id=actor.user_id,
                    role=role,
                    registry_admin=actor in registry_admins,
                )
            )
        return team.id


def add_service_account(backend: Backend, team_id: int, name: str) -> Actor:
    """As the service-account service models one: a user of type service
    owned by the team, with a member row."""
    with backend.db.transaction() as s:
        user = User(username=name, account_type="service", service_team_id=team_id)
        s.add(user)
        s.flush()
        s.add(Membership(team_id=team_id, user_id=user.id, role="member"))
        return Actor(user.id)
