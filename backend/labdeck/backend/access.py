"""Loading things for an actor, and turning "what the actor is" into a
`permissions.Subject`.

Existence must not leak: a team or project the actor cannot see answers
`NotFound`, exactly as if it did not exist; `Forbidden` is only for things
the actor can see but may not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import permissions
from .context import Actor
from .errors import NotFound, Unauthenticated
from .models import CustomRole, Membership, Project, Team, User
from .permissions import Subject


def actor_user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    if user is None or user.deleted:
        raise Unauthenticated("this account no longer exists")
    return user


def is_system_admin(user: User) -> bool:
    return user.account_type == "admin"


def membership(session: Session, team_id: int, user_id: int) -> Membership | None:
    return session.get(Membership, (team_id, user_id))


def team_subject(session: Session, team: Team, user: User, *, owns: bool | None = None) -> Subject:
    member = membership(session, team.id, user.id)
    extras: frozenset[str] = frozenset()
    if member is not None and member.custom_role_id is not None:
        role = session.get(CustomRole, member.custom_role_id)
        if role is not None:
            extras = frozenset(role.extra_actions)
    return Subject(
        team_role=member.role if member else None,
        registry_admin=bool(member and member.registry_admin),
        system_admin=is_system_admin(user),
        extra_actions=extras,
        owns=owns,
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


OPEN_PROJECT_EXTRAS = frozenset({"log experiments", "create reports"})


def project_access(session: Session, user: User, project: Project) -> ProjectAccess | None:
    """How `user` relates to `project`, or None when it may not see it.

    A personal project's owner acts as its team admin. On a team project, a
    member acts by team role; a `private` project is seen only by its creator
    and the team's admins. Anyone signed in sees an `open` project as a
    view-only member who may also log runs and write reports there.
    """
    if project.owner_id is not None:
        if project.owner_id == user.id:
            return ProjectAccess(project, Subject(team_role="admin"))
        subject = None
    else:
        team = session.get(Team, project.team_id)
        assert team is not None
        subject = team_subject(session, team, user)
        if subject.team_role is not None:
            hidden = (
                project.visibility == "private"
                and subject.team_role != "admin"
                and project.created_by != user.id
            )
            if not hidden:
                return ProjectAccess(project, subject)
    if project.visibility == "open":
        return ProjectAccess(
            project, Subject(team_role="view_only", extra_actions=OPEN_PROJECT_EXTRAS)
        )
    return None


def visible_project(session: Session, user: User, entity: str, name: str) -> ProjectAccess:
    project = session.scalar(
        select(Project).where(
            Project.entity == entity.strip().lower(),
            func.lower(Project.name) == name.strip().lower(),
        )
    )
    access = project_access(session, user, project) if project is not None else None
    if access is None:
        raise NotFound(f"no project {entity}/{name}")
    return access


def visible_project_by_id(
    session: Session, user: User, project_id: int, what: str
) -> ProjectAccess:
    project = session.get(Project, project_id)
    access = project_access(session, user, project) if project is not None else None
    if access is None:
        raise NotFound(f"no {what} with that id")
    return access
