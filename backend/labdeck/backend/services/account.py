"""Deleting one's own account (F-US-6).

The `users` row stays as a tombstone (`deleted`, renamed, every personal
field cleared) because team runs, reports and comments point at it and must
stay, attributed to a deleted user (F-TM-7). Everything that is the person's
alone goes: emails and their links, API keys, memberships, settings, alert
history, and the personal projects with all they hold, their artifact files
in storage included (purged once the deletion has committed;
`labdeck storage orphans` shows an operator that nothing was left). The log of
verification mails the account asked for stays until it ages out (a day):
the limits that protect those addresses' owners must not reset on deletion.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import locks, storage, validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, Unavailable
from ..models import (
    Alert,
    AlertPreference,
    ApiKey,
    BetaFeatureChoice,
    Email,
    GithubOAuthState,
    Membership,
    OrgMember,
    Project,
    ReportFollower,
    User,
)
from ..names import RESERVED_PREFIX
from ..roles import AccountType, TeamRole, is_service_account
from .members import sole_admin_of

PERSONAL_ROWS = (
    Email,
    ApiKey,
    Membership,
    OrgMember,
    BetaFeatureChoice,
    AlertPreference,
    GithubOAuthState,
    Alert,
    ReportFollower,
)


def _lock_memberships(session: Session, actor: Actor) -> User:
    """Take the lock of every team the account is in, then its own (`locks`),
    and read the account again. A membership that appeared in between (an
    admin added or promoted it a moment ago) is a team whose lock this
    transaction does not hold, and may not take out of order: it gives up,
    and the client tries again."""
    user = actor_user(session, actor)
    teams = set(session.scalars(select(Membership.team_id).where(Membership.user_id == user.id)))
    locks.hold(session, *(locks.team(t) for t in teams), locks.user(user.id))
    user = actor_user(session, actor)
    now = set(session.scalars(select(Membership.team_id).where(Membership.user_id == user.id)))
    if not now <= teams:
        raise Unavailable(
            "your teams changed while your account was being deleted; try again", retry_after=1
        )
    return user


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
        user = _lock_memberships(session, actor)
        if typed != user.username:
            raise Invalid(
                f"type your user name ({user.username}) to confirm deleting your account",
                field="confirm",
            )
        if is_service_account(user.account_type):
            raise Conflict("a service account is removed by its team's admins, not by itself")
        admin_of = select(Membership.team_id).where(
            Membership.user_id == user.id, Membership.role == TeamRole.ADMIN
        )
        orphaned = sole_admin_of(session, user.id, session.scalars(admin_of))
        if orphaned:
            raise Conflict(
                f"you are the last admin of {', '.join(t.name for t in orphaned)}: make "
                "another member an "
                "admin there (or delete the team) before deleting your account"
            )
        for model in PERSONAL_ROWS:
            session.execute(delete(model).where(model.user_id == user.id))
        # Runs, metrics, reports and artifacts of personal projects go with
        # them (ON DELETE CASCADE); their files once this commits.
        personal = select(Project.id).where(Project.owner_id == user.id)
        files = storage.project_files(session, backend, personal)
        session.execute(delete(Project).where(Project.owner_id == user.id))
        user.username = _tombstone_name(session, user)
        # The sign-in name is free again: whoever signs in with it next is
        # a new account.
        user.external_name = user.external_key = None
        user.account_type = AccountType.USER
        user.name = user.institution = user.bio = user.location = user.website = ""
        user.avatar_png = None
        user.slack_webhook_url = ""
        user.github_login = None
        user.github_token = None
        user.storage_quota_bytes = None
        user.deleted = True
    backend.key_cache.invalidate()  # committed: this process forgets its keys at once
    storage.purge(backend, files)
