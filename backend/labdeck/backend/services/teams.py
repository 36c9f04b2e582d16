"""Teams (F-TM-1): create, list mine, read one; system admins delete one.

A team's name is its entity name in project paths, shared with user names,
so it is unique across both and never changes: this module (and every other)
offers no way to rename a team.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import locks, storage, validate
from ..access import account_subject, actor_user, find_team, visible_team
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, Unavailable
from ..models import (
    ApiKey,
    CustomRole,
    Membership,
    Organization,
    Project,
    Team,
    User,
    utcnow,
)
from ..permissions import TEAM_ROLES, Subject, require
from ..roles import AccountType, TeamRole, is_team_admin
from .orgs import find_org, join_org, leave_org_if_unused

TEAM_TYPES = ("work", "academic")


def role_name(role: str, custom_role: str | None) -> str:
    """What a member's role is called: the custom role's name when one is assigned."""
    return custom_role if custom_role is not None else role


def resolve_role(session: Session, team: Team, role: Any) -> tuple[str, CustomRole | None]:
    """A role name as given by a client: a standard role, or a custom role of
    the team's organization (stored as its base role plus a pointer)."""
    name = validate.text(role, "role", max_len=64, min_len=1)
    if name in TEAM_ROLES:
        return name, None
    # Custom role names are stored lower-case, as they were validated.
    custom = session.scalar(
        select(CustomRole).where(CustomRole.org_id == team.org_id, CustomRole.name == name.lower())
    )
    if custom is None:
        raise Invalid(
            f"{name!r} is neither admin, member, view_only nor a custom role of this organization",
            field="role",
        )
    return custom.base_role, custom


def require_role_grant(subject: Subject, base: str, custom: CustomRole | None) -> None:
    """Granting a role: admins need the admin permission, custom roles theirs."""
    if custom is not None:
        require("assign custom roles", subject)
    if is_team_admin(base):
        require("add or remove team admins", subject)


def team_view(team: Team, organization: str, my_role: str | None) -> dict[str, Any]:
    return {
        "name": team.name,
        "type": team.type,
        "organization": organization,
        "my_role": my_role,
        "created_at": team.created_at.isoformat(),
    }


def my_role(session: Session, team_id: int, user_id: int) -> str | None:
    row = session.execute(
        select(Membership.role, CustomRole.name)
        .outerjoin(CustomRole, CustomRole.id == Membership.custom_role_id)
        .where(Membership.team_id == team_id, Membership.user_id == user_id)
    ).one_or_none()
    return None if row is None else role_name(row[0], row[1])


def create_team(
    backend: Backend, actor: Actor, name: str, type: str, organization: str
) -> dict[str, Any]:
    """The creator becomes the team's admin; an organization that does not
    exist yet is created with the creator as its admin."""
    team_name = validate.team_name(name, "name")
    team_type = validate.choice(type, "type", TEAM_TYPES)
    org_name = validate.team_name(organization, "organization")
    try:
        with backend.db.transaction() as session:
            user = actor_user(session, actor)
            require("create or delete teams", account_subject(user))
            locks.hold(session, locks.user(user.id))
            if find_team(session, team_name) is not None:
                raise Conflict(f"a team named {team_name!r} exists", field="name")
            if session.scalar(select(User.id).where(User.username == team_name)) is not None:
                raise Conflict(
                    f"{team_name!r} is a user name; teams and users share one namespace",
                    field="name",
                )
            org = find_org(session, org_name)
            if org is None:
                require("create organizations and custom roles", account_subject(user))
                org = Organization(name=org_name)
                session.add(org)
                session.flush()
                join_org(session, org.id, user.id, admin=True)
            else:
                join_org(session, org.id, user.id)
            team = Team(name=team_name, type=team_type, org_id=org.id)
            session.add(team)
            session.flush()
            session.add(Membership(team_id=team.id, user_id=user.id, role=TeamRole.ADMIN))
            session.flush()
            return team_view(team, org.name, TeamRole.ADMIN)
    except IntegrityError:
        raise Conflict(f"a team named {team_name!r} exists", field="name") from None


def list_my_teams(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        rows = session.execute(
            select(Team, Organization.name, Membership.role, CustomRole.name)
            .join(Membership, Membership.team_id == Team.id)
            .join(Organization, Organization.id == Team.org_id)
            .outerjoin(CustomRole, CustomRole.id == Membership.custom_role_id)
            .where(Membership.user_id == user.id)
            .order_by(Team.name)
        ).all()
        return [team_view(team, org, role_name(role, custom)) for team, org, role, custom in rows]


def get_team(backend: Backend, actor: Actor, name: str) -> dict[str, Any]:
    """Members (and admin accounts) see it, with the admin count behind the
    UI's warning while a team has a single admin (F-TM-4)."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        team = visible_team(session, user, name)
        org_name = session.scalar(select(Organization.name).where(Organization.id == team.org_id))
        counts = session.execute(
            select(
                func.count(),
                func.count().filter(Membership.role == TeamRole.ADMIN),
            )
            .select_from(Membership)
            .join(User, User.id == Membership.user_id)
            .where(Membership.team_id == team.id, User.account_type != AccountType.SERVICE)
        ).one()
        members, admins = int(counts[0]), int(counts[1])
        return team_view(team, org_name or "", my_role(session, team.id, user.id)) | {
            "member_count": members,
            "admin_count": admins,
            "only_one_admin": admins == 1,
            "profile_public": team.profile_public,
        }


def delete_team(backend: Backend, actor: Actor, name: str, confirm: Any) -> None:
    """A system admin deletes a team ("create or delete teams"), typing its
    name to confirm, as for an account (F-US-6).

    The team's projects go with every run, report and artifact in them (the
    files once this commits), and so do its registered models, invitations,
    settings and memberships; what its members did elsewhere (runs in other
    teams' projects, personal projects) stays. Its service accounts become
    tombstones like a deleted account, their keys revoked, so runs they
    logged into other teams' open projects stay attributed to them. Members
    left in no team of its organization leave the organization (F-TM-2).
    (A registry links only its own team's artifacts, so no other team's
    model loses a version.) Holds the team's lock, then its members'
    (`locks`), so nobody joins, leaves or writes metrics meanwhile."""
    typed = validate.text(confirm, "confirm", max_len=64)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, name)
        require("create or delete teams", account_subject(user))
        if typed != found.name:
            raise Invalid(
                f"type the team's name ({found.name}) to confirm deleting it", field="confirm"
            )
        in_team = select(Membership.user_id).where(Membership.team_id == found.id)
        people = set(session.scalars(in_team))
        locks.hold(session, locks.team(found.id), *(locks.user(u) for u in people))
        found = visible_team(session, actor_user(session, actor), name)
        if not set(session.scalars(in_team)) <= people:
            raise Unavailable("the team's members changed meanwhile; try again", retry_after=1)
        project_ids = select(Project.id).where(Project.team_id == found.id)
        files = storage.project_files(session, backend, project_ids)
        services = select(User.id).where(User.service_team_id == found.id)
        session.execute(
            update(ApiKey)
            .where(ApiKey.user_id.in_(services), ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        session.execute(
            update(User)
            .where(User.service_team_id == found.id)
            .values(deleted=True, service_team_id=None)
        )
        org_id = found.org_id
        session.delete(found)
        session.flush()
        for person in sorted(people):
            leave_org_if_unused(session, org_id, person)
    backend.key_cache.invalidate()  # its service accounts' keys stop working here at once
    storage.purge(backend, files)
