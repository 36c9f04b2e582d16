"""Deleting one's own account (F-US-6).

The `users` row stays as a tombstone (`deleted`, renamed, every personal
field cleared) because team runs, reports and comments point at it and must
stay, attributed to a deleted user (F-TM-7). Everything that is the person's
alone goes: emails and their links, API keys, memberships, settings, alert
history, and the personal projects with all they hold.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid
from ..models import (
    Alert,
    AlertPreference,
    ApiKey,
    BetaFeature,
    Email,
    GithubOAuthState,
    Membership,
    OrgMember,
    Project,
    ReportFollower,
    Team,
    User,
)
from .identity import RESERVED_PREFIX

# F-TM-4's invariant is about the admin role itself, so the count below names
# it; no permission is decided here.
ADMIN_ROLE = "admin"
PERSONAL_ROWS = (
    Email,
    ApiKey,
    Membership,
    OrgMember,
    BetaFeature,
    AlertPreference,
    GithubOAuthState,
    Alert,
    ReportFollower,
)


def _teams_left_without_admin(session: Session, user: User) -> list[str]:
    """Teams where this user is the only admin (service accounts do not count:
    nobody can sign in as one to run the team)."""
    admin_of = select(Membership.team_id).where(
        Membership.user_id == user.id, Membership.role == ADMIN_ROLE
    )
    # Locking the teams serializes two admins of one team deleting their
    # accounts at once; otherwise each could see the other still there.
    teams = session.scalars(
        select(Team).where(Team.id.in_(admin_of)).order_by(Team.id).with_for_update()
    ).all()
    if not teams:
        return []
    rows = session.execute(
        select(Membership.team_id, func.count())
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.team_id.in_([t.id for t in teams]),
            Membership.role == ADMIN_ROLE,
            User.deleted.is_(False),
            User.account_type != "service",
        )
        .group_by(Membership.team_id)
    )
    admins = {team_id: n for team_id, n in rows}
    return sorted(t.name for t in teams if admins.get(t.id, 0) <= 1)


def _tombstone_name(session: Session, user: User) -> str:
    """`deleted-user-<id>`; in the unlikely case that a live account already
    chose that name, a random suffix keeps the tombstone's distinct."""
    name = f"{RESERVED_PREFIX}{user.id}"
    while session.scalar(select(User.id).where(User.username == name, User.id != user.id)):
        name = f"{RESERVED_PREFIX}{user.id}-{secrets.token_hex(3)}"
    return name


def delete_account(backend: Backend, actor: Actor, confirm: str) -> None:
    typed = validate.text(confirm, "confirm", max_len=64)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        if typed != user.username:
            raise Invalid(
                f"type your user name ({user.username}) to confirm deleting your account",
                field="confirm",
            )
        if user.account_type == "service":
            raise Conflict("a service account is removed by its team's admins, not by itself")
        orphaned = _teams_left_without_admin(session, user)
        if orphaned:
            raise Conflict(
                f"you are the last admin of {', '.join(orphaned)}: make another member an "
                "admin there (or delete the team) before deleting your account"
            )
        for model in PERSONAL_ROWS:
            session.execute(delete(model).where(model.user_id == user.id))
        # Runs, metrics, reports and artifacts of personal projects go with
        # them (ON DELETE CASCADE).
        session.execute(delete(Project).where(Project.owner_id == user.id))
        user.username = _tombstone_name(session, user)
        user.account_type = "user"
        user.name = user.institution = user.bio = user.location = user.website = ""
        user.avatar_png = None
        user.slack_webhook_url = ""
        user.github_login = None
        user.github_token = None
        user.storage_quota_bytes = None
        user.deleted = True
