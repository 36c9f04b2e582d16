"""Team service accounts (F-TM-6): non-human identities with an API key.

A service account is a `users` row of type `service` owned by its team, with
a `member` membership there (what lets it log to the team's projects) and
API keys, each shown once. Only the team's admins mint and revoke those
keys (the account itself cannot: `apikeys`), and their list shows every
key that is not revoked, so no key acts for the team unseen. Its user name
is `<team>.<name>`: team names hold no '.', so two teams' accounts can never
collide, and the name says whose account it is wherever a run shows who
logged it.

Deleting one revokes its keys and removes its membership, but keeps the row
as a tombstone (`deleted`): the runs it logged stay attributed to it, and
its name is never handed to a new account that could be mistaken for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user, team_subject, visible_team
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import ApiKey, Membership, Team, User, utcnow
from ..permissions import require
from ..roles import AccountType, TeamRole
from .apikeys import issue_key, key_view


def service_username(team: str, name: str) -> str:
    return f"{team}.{name}"


def _check_length(team: Team, name: str) -> None:
    if len(service_username(team.name, name)) > 64:
        raise Invalid(
            f"name must be at most {63 - len(team.name)} characters for the team {team.name}",
            field="name",
        )


def account_view(user: User, team: Team, keys: list[ApiKey]) -> dict[str, Any]:
    """`keys` oldest first; `key_prefix` and `last_used_at` are the newest key's."""
    newest = keys[-1] if keys else None
    return {
        "name": user.name,
        "team": team.name,
        "username": user.username,
        "created_at": user.created_at.isoformat(),
        "key_prefix": newest.prefix if newest else None,
        "last_used_at": (
            newest.last_used_at.isoformat() if newest and newest.last_used_at else None
        ),
        "keys": [key_view(k) for k in keys],
    }


def _managed_team(session: Session, actor: Actor, team: str) -> Team:
    user = actor_user(session, actor)
    found = visible_team(session, user, team)
    require("manage service accounts", team_subject(session, found, user))
    return found


def create_service_account(backend: Backend, actor: Actor, team: str, name: str) -> dict[str, Any]:
    """Returns the account with its API key's secret, which is shown only here."""
    account_name = validate.team_name(name, "name")
    try:
        with backend.db.transaction() as session:
            found = _managed_team(session, actor, team)
            _check_length(found, account_name)
            username = service_username(found.name, account_name)
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict(
                    f"the name {account_name!r} is taken (by a current or deleted service "
                    f"account, or by the user {username!r})",
                    field="name",
                )
            account = User(
                username=username,
                account_type=AccountType.SERVICE,
                name=account_name,
                service_team_id=found.id,
            )
            session.add(account)
            session.flush()
            session.add(Membership(team_id=found.id, user_id=account.id, role=TeamRole.MEMBER))
            key, secret = issue_key(session, account.id, f"service account {username}")
            return account_view(account, found, [key]) | {"secret": secret}
    except IntegrityError:
        raise Conflict(f"the name {account_name!r} is taken", field="name") from None


def list_service_accounts(backend: Backend, actor: Actor, team: str) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        found = _managed_team(session, actor, team)
        rows = session.execute(
            select(User, ApiKey)
            .outerjoin(ApiKey, (ApiKey.user_id == User.id) & ApiKey.revoked_at.is_(None))
            .where(
                User.service_team_id == found.id,
                User.account_type == AccountType.SERVICE,
                User.deleted.is_(False),
            )
            .order_by(User.username, ApiKey.id)
        ).all()
        accounts: dict[int, tuple[User, list[ApiKey]]] = {}
        for account, key in rows:
            keys = accounts.setdefault(account.id, (account, []))[1]
            if key is not None:
                keys.append(key)
        return [account_view(account, found, keys) for account, keys in accounts.values()]


def _account(session: Session, team: Team, name: str) -> User:
    account_name = validate.team_name(name, "name")
    account = session.scalar(
        select(User).where(
            User.username == service_username(team.name, account_name),
            User.service_team_id == team.id,
            User.account_type == AccountType.SERVICE,
            User.deleted.is_(False),
        )
    )
    if account is None:
        raise NotFound(f"{team.name} has no service account named {account_name!r}")
    return account


def create_service_account_key(
    backend: Backend, actor: Actor, team: str, name: str
) -> dict[str, Any]:
    """Another key for the account (to rotate one: mint, deploy, revoke the old)."""
    with backend.db.transaction() as session:
        found = _managed_team(session, actor, team)
        account = _account(session, found, name)
        key, secret = issue_key(session, account.id, f"service account {account.username}")
        return key_view(key) | {"secret": secret}


def revoke_service_account_key(
    backend: Backend, actor: Actor, team: str, name: str, key_id: int
) -> None:
    with backend.db.transaction() as session:
        found = _managed_team(session, actor, team)
        account = _account(session, found, name)
        key = session.get(ApiKey, key_id) if validate.is_row_id(key_id) else None
        if key is None or key.user_id != account.id or key.revoked_at is not None:
            raise NotFound(f"{account.username} has no API key with that id")
        key.revoked_at = utcnow()
    backend.key_cache.invalidate()  # committed: this process forgets the key at once


def delete_service_account(backend: Backend, actor: Actor, team: str, name: str) -> None:
    with backend.db.transaction() as session:
        found = _managed_team(session, actor, team)
        account = _account(session, found, name)
        session.execute(
            update(ApiKey)
            .where(ApiKey.user_id == account.id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        membership = session.get(Membership, (found.id, account.id))
        if membership is not None:
            session.delete(membership)
        account.deleted = True
    backend.key_cache.invalidate()  # committed: this process forgets its keys at once
