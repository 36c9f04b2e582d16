"""API keys (F-ID-3): create (secret shown once), list (prefix only), revoke."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import validate
from ..access import actor_user, is_service
from ..context import Actor, Backend
from ..errors import Forbidden, NotFound
from ..models import ApiKey, User, utcnow
from ..tokens import new_api_key


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }


def issue_key(session: Any, user_id: int, name: str) -> tuple[ApiKey, str]:
    """Shared by personal keys and service accounts' keys."""
    secret, prefix, hashed = new_api_key()
    key = ApiKey(user_id=user_id, name=name, prefix=prefix, secret_hash=hashed)
    session.add(key)
    session.flush()
    return key, secret


def _key_holder(session: Any, actor: Actor) -> User:
    """The account whose own keys these are: a person. A service account's
    keys are its team admins' to mint and revoke (`service_accounts`), so
    that the admins' list shows every key that acts for the team."""
    user = actor_user(session, actor)
    if is_service(user):
        raise Forbidden(
            "a service account cannot mint or revoke API keys; its team's admins "
            "manage them under the team's service accounts"
        )
    return user


def create_key(backend: Backend, actor: Actor, name: str = "") -> dict[str, Any]:
    label = validate.text(name, "name", max_len=128)
    with backend.db.transaction() as session:
        user = _key_holder(session, actor)
        key, secret = issue_key(session, user.id, label)
        return key_view(key) | {"secret": secret}


def list_keys(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        keys = session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
        return [key_view(k) for k in keys]


def revoke_key(backend: Backend, actor: Actor, key_id: int) -> None:
    with backend.db.transaction() as session:
        user = _key_holder(session, actor)
        key = session.get(ApiKey, key_id)
        if key is None or key.user_id != user.id or key.revoked_at is not None:
            raise NotFound("no API key with that id")
        key.revoked_at = utcnow()
    backend.key_cache.invalidate()  # committed: this process forgets the key at once
