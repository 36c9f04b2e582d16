"""Who the user is (F-ID-1, F-ID-2) and API-key authentication (F-ID-3)."""

from __future__ import annotations

import getpass
import os
import re

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import validate
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, Unauthenticated
from ..models import ApiKey, Email, User, utcnow
from ..tokens import API_KEY_PREFIX, digest

_UNSAFE = re.compile(r"[^a-z0-9._-]+")


# Tombstones of deleted accounts are named so (services/account.py).
RESERVED_PREFIX = "deleted-user-"


def normalize_username(raw: str) -> str:
    """A Jupyter or OS user name as a labdeck user name: lower case, anything
    outside a-z 0-9 . _ - folded to '-', so `Jane Doe` signs in as `jane-doe`."""
    name = _UNSAFE.sub("-", raw.strip().lower()).strip("-.") or "user"
    return validate.username(name[:64])


def _not_reserved(name: str) -> str:
    if name.startswith(RESERVED_PREFIX):
        raise Invalid(
            f"user names starting with {RESERVED_PREFIX!r} are reserved", field="username"
        )
    return name


def _new_account_type(session: Session, backend: Backend, username: str) -> str:
    if username in backend.settings.admin_users:
        return "admin"
    has_people = session.scalar(
        select(func.count()).select_from(User).where(User.account_type != "service")
    )
    return "user" if has_people else "admin"


def _find(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def ensure_user(backend: Backend, raw_username: str) -> Actor:
    """The user for a signed-in identity, created on first sight. The first
    person of a fresh database, and those named in `admin_users`, are admins."""
    username = _not_reserved(normalize_username(raw_username))
    for _ in range(2):
        try:
            with backend.db.transaction() as session:
                user = _find(session, username)
                if user is None:
                    user = User(
                        username=username,
                        account_type=_new_account_type(session, backend, username),
                    )
                    session.add(user)
                    session.flush()
                elif user.deleted or user.account_type == "service":
                    raise Unauthenticated(f"the account {username!r} cannot sign in")
                elif username in backend.settings.admin_users and user.account_type != "admin":
                    user.account_type = "admin"
                return Actor(user.id)
        except IntegrityError:
            # Another process created the same user between our read and write.
            continue
    raise Conflict(f"could not create the user {username!r}")


def create_user(
    backend: Backend, username: str, *, admin: bool = False, email: str | None = None
) -> Actor:
    """Operator path (`labdeck user create`): an email given here counts as
    verified and becomes the primary one."""
    name = _not_reserved(validate.username(username))
    address = validate.email(email, "email") if email is not None else None
    with backend.db.transaction() as session:
        if _find(session, name) is not None:
            raise Conflict(f"a user named {name!r} already exists", field="username")
        if address is not None and session.scalar(select(Email.id).where(Email.address == address)):
            raise Conflict(f"{address} belongs to another account", field="email")
        account_type = "admin" if admin else _new_account_type(session, backend, name)
        user = User(username=name, account_type=account_type)
        session.add(user)
        session.flush()
        if address is not None:
            session.add(
                Email(
                    user_id=user.id,
                    address=address,
                    verified=True,
                    is_primary=True,
                    login_methods=["operator"],
                )
            )
        return Actor(user.id)


def server_owner() -> str:
    """The user a single-user Jupyter server and its kernels belong to (F-ID-1):
    `JUPYTERHUB_USER` under JupyterHub, else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def process_actor(backend: Backend) -> Actor:
    """Who code running in a kernel or script acts as: the owner of
    `LABDECK_API_KEY` when it is set (a service account, say), else the
    server's owner, created on first sight."""
    key = os.environ.get("LABDECK_API_KEY")
    if key:
        return authenticate_key(backend, key)
    return ensure_user(backend, server_owner())


def actor_for(backend: Backend, username: str) -> Actor:
    """An existing, live account by name (the CLI and tests act as it)."""
    name = validate.username(username)
    with backend.db.reader() as session:
        user = _find(session, name)
        if user is None or user.deleted:
            raise Unauthenticated(f"no user named {name!r}")
        return Actor(user.id)


def authenticate_key(backend: Backend, secret: str) -> Actor:
    """The owner of a live API key. Unknown, revoked and malformed keys are all
    401: the caller must never fall back to another identity."""
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 128:
        raise Unauthenticated("malformed API key")
    hashed = digest(secret)
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
    return Actor(row.user_id)
