"""Who the user is (F-ID-1, F-ID-2, F-ID-4) and API-key authentication (F-ID-3).

A signed-in identity reaches `ensure_user` as an external name (see
`labdeck.backend.names`): the account is the one whose `external_key` is
that name's key, created on first sight with a handle of its own. Nothing
here takes a name from the environment: the caller has proven it (the
server's OS account, a Jupyter or JupyterHub sign-in).
"""

from __future__ import annotations

import os
import pwd

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import names, validate
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, Unauthenticated
from ..models import ApiKey, Email, Team, User, utcnow
from ..roles import AccountType
from ..tokens import API_KEY_PREFIX, digest
from . import emails

# Two first sightings racing for one name or one handle: the loser retries
# and finds the winner's row (or the next free handle).
_ATTEMPTS = 8


def _not_reserved(name: str) -> str:
    if name.startswith(names.RESERVED_PREFIX):
        raise Invalid(
            f"user names starting with {names.RESERVED_PREFIX!r} are reserved", field="username"
        )
    return name


def _has_people(session: Session) -> bool:
    return bool(
        session.scalar(
            select(func.count()).select_from(User).where(User.account_type != AccountType.SERVICE)
        )
    )


def _handle_taken(session: Session, handle: str) -> bool:
    """Users and teams share one namespace of entities (`/projects/{entity}`)."""
    return (
        session.scalar(select(User.id).where(User.username == handle)) is not None
        or session.scalar(select(Team.id).where(Team.name == handle)) is not None
    )


def _free_handle(session: Session, name: str) -> str:
    wanted = names.derive_handle(name)
    n = 1
    while _handle_taken(session, names.with_suffix(wanted, n)):
        n += 1
    return names.with_suffix(wanted, n)


def _account_type(
    backend: Backend, session: Session, key: str, hub_admin: bool | None, current: str | None
) -> str:
    """`admin_users` always make an admin. A JupyterHub (`hub_admin` given)
    decides the rest, both ways: its admins are admins, nobody else is.
    Without a Hub, the first person of a fresh database is the admin, and an
    account keeps the type it has."""
    if key in backend.settings.admin_users or hub_admin:
        return AccountType.ADMIN
    if hub_admin is not None:
        return AccountType.USER
    if current is not None:
        return current
    return AccountType.USER if _has_people(session) else AccountType.ADMIN


def ensure_user(backend: Backend, external_name: str, *, hub_admin: bool | None = None) -> Actor:
    """The account of a signed-in identity (`external_name`, as the identity
    provider proved it), created on first sight. `hub_admin` is what a
    JupyterHub says of the person (None: no Hub speaks)."""
    name = names.external_name(external_name)
    key = names.key(name)
    for _ in range(_ATTEMPTS):
        # Every request of a signed-in person lands here: look first, so the
        # common case takes no write lock (SQLite's BEGIN IMMEDIATE).
        with backend.db.reader() as session:
            row = session.execute(
                select(User.id, User.account_type).where(User.external_key == key)
            ).one_or_none()
            if row is not None and row.account_type == _account_type(
                backend, session, key, hub_admin, row.account_type
            ):
                return Actor(row.id)
        try:
            with backend.db.transaction() as session:
                user = session.scalar(select(User).where(User.external_key == key))
                if user is None:
                    user = User(
                        username=_free_handle(session, name),
                        external_name=name,
                        external_key=key,
                        account_type=_account_type(backend, session, key, hub_admin, None),
                    )
                    session.add(user)
                    session.flush()
                else:
                    user.account_type = _account_type(
                        backend, session, key, hub_admin, user.account_type
                    )
                return Actor(user.id)
        except IntegrityError:
            # Another process took this name, or the handle we chose, between
            # our read and our write: look again.
            continue
    raise Conflict(f"could not create an account for {name!r}; try again")


def _find(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def create_user(
    backend: Backend, username: str, *, admin: bool = False, email: str | None = None
) -> Actor:
    """Operator path (`labdeck user create`): the account of whoever signs in
    as `username` later, made ahead. An email given here counts as verified
    and becomes the primary one; other accounts' unverified claims of it go
    (`emails.bind`)."""
    name = _not_reserved(validate.username(username))
    key = names.key(name)
    address = validate.email(email, "email") if email is not None else None
    with backend.db.transaction() as session:
        if address is not None:
            emails.lock_claimants(session, address)
        if _find(session, name) is not None or session.scalar(
            select(User.id).where(User.external_key == key)
        ):
            raise Conflict(f"a user named {name!r} already exists", field="username")
        if session.scalar(select(Team.id).where(Team.name == name)) is not None:
            raise Conflict(
                f"{name!r} is a team's name; teams and users share one namespace",
                field="username",
            )
        taken = select(Email.id).where(Email.address == address, Email.verified.is_(True))
        if address is not None and session.scalar(taken) is not None:
            raise Conflict(f"{address} is verified by another account", field="email")
        account_type = (
            AccountType.ADMIN if admin else _account_type(backend, session, key, None, None)
        )
        user = User(username=name, external_name=name, external_key=key, account_type=account_type)
        session.add(user)
        session.flush()
        if address is not None:
            given = Email(
                user_id=user.id,
                address=address,
                verified=False,
                is_primary=True,
                login_methods=["operator"],
            )
            session.add(given)
            session.flush()
            emails.bind(session, given)
        return Actor(user.id)


def server_owner() -> str:
    """The person a single-user Jupyter server, its kernels and the CLI belong
    to (F-ID-1): the OS account the process runs as. Read from the process's
    user id, never from `USER`/`LOGNAME`/`JUPYTERHUB_USER`, which anyone can
    set; an id without a passwd entry (a container's) is named by the id."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"


def process_actor(backend: Backend) -> Actor:
    """Who code running in a kernel or script acts as: the owner of the
    `api_key` setting (`LABDECK_API_KEY`) when it is set (a service account,
    say), else the server's owner, created on first sight."""
    if backend.settings.api_key:
        return authenticate_key(backend, backend.settings.api_key)
    return ensure_user(backend, server_owner())


def actor_for(backend: Backend, username: str) -> Actor:
    """An existing, live account by name (the CLI and tests act as it)."""
    name = validate.username(username)
    with backend.db.reader() as session:
        user = _find(session, name)
        if user is None or user.deleted:
            raise Unauthenticated(f"no user named {name!r}")
        return Actor(user.id)


def cached_key(backend: Backend, secret: str) -> Actor | None:
    """The owner of an API key resolved within the last `api_key_cache_seconds`
    (`keycache`), without touching the database; None: ask `authenticate_key`."""
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 128:
        return None
    user_id = backend.key_cache.get(digest(secret))
    return None if user_id is None else Actor(user_id)


def authenticate_key(backend: Backend, secret: str) -> Actor:
    """The owner of a live API key. Unknown, revoked and malformed keys are all
    401: the caller must never fall back to another identity. A key resolved
    lately is answered from `backend.key_cache` (its revocation bound is in
    `keycache`)."""
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 128:
        raise Unauthenticated("malformed API key")
    hashed = digest(secret)
    cached = backend.key_cache.get(hashed)
    if cached is not None:
        return Actor(cached)
    generation = backend.key_cache.generation
    # A read-only unit of work: on SQLite a write transaction (BEGIN IMMEDIATE)
    # would make every authenticated request wait for any writer in progress,
    # such as a metrics batch.
    with backend.db.reader() as session:
        row = session.execute(
            select(ApiKey.id, ApiKey.user_id, ApiKey.last_used_at, User.deleted)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.secret_hash == hashed, ApiKey.revoked_at.is_(None))
        ).one_or_none()
    if row is None or row.deleted:
        raise Unauthenticated("unknown or revoked API key")
    now = utcnow()
    # Writing on every request would serialize requests on SQLite; a minute's
    # precision is enough for "last used".
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        with backend.db.transaction() as session:
            session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    backend.key_cache.put(hashed, row.user_id, generation)
    return Actor(row.user_id)
