"""Loading things for an actor, and turning "what the actor is" into a
`permissions.Subject`.

Existence must not leak: a team or project the actor cannot see answers
`NotFound`, exactly as if it did not exist; `Forbidden` is only for things
the actor can see but may not change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import permissions
from .context import Actor
from .errors import NotFound, Unauthenticated
from .models import CustomRole, Membership, Project, Team, User
from .permissions import OPEN_PROJECT_GRANT, Subject
from .roles import TeamRole, is_admin_account, is_service_account, is_team_admin


def actor_user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    if user is None or user.deleted:
        raise Unauthenticated("this account no longer exists")
    return user


def is_system_admin(user: User) -> bool:
    return is_admin_account(user.account_type)


def is_service(user: User) -> bool:
    return is_service_account(user.account_type)


def membership(session: Session, team_id: int, user_id: int) -> Membership | None:
    return session.get(Membership, (team_id, user_id))


def member_subject(
    role: str | None,
    registry_admin: bool,
    extra_actions: Iterable[str],
    system_admin: bool,
    owns: bool | None = None,
) -> Subject:
    """The subject of an account on a team, from its membership facts (role
    None for a non-member), however they were loaded."""
    return Subject(
        team_role=role,
        registry_admin=bool(role is not None and registry_admin),
        system_admin=system_admin,
        extra_actions=frozenset(extra_actions),
        owns=owns,
    )


def team_subject(session: Session, team: Team, user: User, *, owns: bool | None = None) -> Subject:
    member = membership(session, team.id, user.id)
    extras: list[str] = []
    if member is not None and member.custom_role_id is not None:
        role = session.get(CustomRole, member.custom_role_id)
        if role is not None:
            extras = role.extra_actions
    return member_subject(
        member.role if member else None,
        bool(member and member.registry_admin),
        extras,
        is_system_admin(user),
        owns,
    )


def account_subject(user: User) -> Subject:
    """For actions that are the account type's alone (the system rows)."""
    return Subject(system_admin=is_system_admin(user))


def find_team(session: Session, name: str) -> Team | None:
    return session.scalar(select(Team).where(Team.name == name.strip().lower()))


def visible_team(session: Session, user: User, name: str) -> Team:
    """A team its members (and admin accounts) see; anyone else gets 404."""
    team = find_team(session, name)
    if team is None:
        raise NotFound(f"no team named {name!r}")
    if membership(session, team.id, user.id) is None and not is_system_admin(user):
        raise NotFound(f"no team named {name!r}")
    return team


def require_team(session: Session, user: User, team: Team, action: str) -> Subject:
    subject = team_subject(session, team, user)
    permissions.require(action, subject)
    return subject


@dataclass(frozen=True)
class ProjectAccess:
    """A project as one actor sees it: the subject to decide with, built with
    `owns` left open (set per thing with `for_owner`)."""

    project: Project
    subject: Subject

    def for_owner(self, created_by: int | None, user: User) -> Subject:
        return Subject(
            team_role=self.subject.team_role,
            registry_admin=self.subject.registry_admin,
            system_admin=self.subject.system_admin,
            extra_actions=self.subject.extra_actions,
            owns=created_by is not None and created_by == user.id,
        )

    def require(self, action: str, user: User, created_by: int | None = None) -> None:
        subject = self.subject if created_by is None else self.for_owner(created_by, user)
        permissions.require(action, subject)


class ProjectFacts(Protocol):
    """What the visibility rule reads of a project: a `Project`, or a row of
    a query that loaded these columns (the write path, `services/ingest.py`)."""

    @property
    def team_id(self) -> int | None: ...
    @property
    def owner_id(self) -> int | None: ...
    @property
    def visibility(self) -> str: ...
    @property
    def created_by(self) -> int | None: ...


def service_member(team: Subject) -> Subject:
    """A service account counts as a member of the team that owns it (it logs
    there without a membership row)."""
    return team if team.team_role is not None else Subject(team_role=TeamRole.MEMBER)


def team_subject_for(session: Session, user: User, team: Team) -> Subject:
    """The team subject, with the service-account rule of `service_member`."""
    subject = team_subject(session, team, user)
    if is_service(user) and user.service_team_id == team.id:
        return service_member(subject)
    return subject


def subject_on_project(
    user_id: int,
    account_type: str,
    service_team_id: int | None,
    project: ProjectFacts,
    team: Subject | None,
) -> Subject | None:
    """How an account relates to a project, or None when it may not see it:
    the one rule for who sees a project, whichever way its facts were loaded.

    A service account (F-TM-6) sees every project of its own team, private
    ones included, as a member, and no personal project. A personal
    project's owner acts as its team admin. On a team project, a member acts
    by team role (`team` is the account's subject on the project's team, None
    for a personal project); a `private` project is seen only by its creator
    and the team's admins. Anyone signed in sees an `open` project as a
    view-only member who may also log runs and write reports there. The one
    rule for `open`: what it grants an outsider, it grants every member of
    the team too, on top of their role, so it never gives anyone more than
    the team's members have.
    """
    opened = OPEN_PROJECT_GRANT if project.visibility == "open" else frozenset()
    if is_service_account(account_type):
        if project.team_id is not None and project.team_id == service_team_id:
            assert team is not None
            return service_member(team)
        if project.team_id is None:
            return None
    if project.owner_id is not None:
        if project.owner_id == user_id:
            return Subject(team_role=TeamRole.ADMIN)
    elif team is not None and team.team_role is not None:
        hidden = (
            project.visibility == "private"
            and not is_team_admin(team.team_role)
            and project.created_by != user_id
        )
        if not hidden:
            return replace(team, extra_actions=team.extra_actions | opened)
    if opened:
        return Subject(team_role=TeamRole.VIEW_ONLY, extra_actions=opened)
    return None


def project_access(session: Session, user: User, project: Project) -> ProjectAccess | None:
    """`subject_on_project` for a loaded project."""
    team = None
    if project.team_id is not None:
        found = session.get(Team, project.team_id)
        assert found is not None
        team = team_subject(session, found, user)
    subject = subject_on_project(user.id, user.account_type, user.service_team_id, project, team)
    return None if subject is None else ProjectAccess(project, subject)


def project_by_id(session: Session, user: User, project_id: int, what: str) -> ProjectAccess:
    """The project of a thing found by id (a run, a report, an artifact): a
    hidden one answers `NotFound` naming the thing, as if it did not exist."""
    project = session.get(Project, project_id)
    found = project_access(session, user, project) if project is not None else None
    if found is None:
        raise NotFound(f"no {what} with that id")
    return found
