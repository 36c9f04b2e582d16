"""Beta features (F-US-3): the user's on/off state of each flag of
`labdeck.backend.features.FLAGS`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Invalid, Malformed
from ..features import FLAGS
from ..models import BetaFeature


def _enabled(session: Session, user_id: int) -> frozenset[str]:
    rows = session.scalars(
        select(BetaFeature.flag).where(
            BetaFeature.user_id == user_id, BetaFeature.enabled.is_(True)
        )
    )
    # A flag removed from the code may still have rows; it gates nothing now.
    return frozenset(rows) & FLAGS.keys()


def _listing(enabled: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "description": f.description, "enabled": f.name in enabled}
        for f in FLAGS.values()
    ]


def list_features(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _listing(_enabled(session, user.id))


def set_features(
    backend: Backend, actor: Actor, changes: Mapping[str, bool]
) -> list[dict[str, Any]]:
    """Every flag named is checked before any is saved; unnamed ones keep their state."""
    if not isinstance(changes, Mapping):
        raise Malformed("the beta features must be a JSON object of flag name to true/false")
    for flag, value in changes.items():
        if flag not in FLAGS:
            raise Invalid(f"there is no beta feature named {flag!r}", field=str(flag))
        validate.flag(value, flag)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        for flag, value in changes.items():
            row = session.get(BetaFeature, (user.id, flag))
            if row is None:
                session.add(BetaFeature(user_id=user.id, flag=flag, enabled=value))
            else:
                row.enabled = value
        session.flush()
        return _listing(_enabled(session, user.id))


def is_enabled(backend: Backend, actor: Actor, flag: str) -> bool:
    """For the code behind a flag; asking about an unknown flag is a bug there."""
    if flag not in FLAGS:
        raise KeyError(f"unknown beta feature {flag!r}")
    return flag in enabled_features(backend, actor)


def enabled_features(backend: Backend, actor: Actor) -> frozenset[str]:
    """All of the actor's enabled flags in one query, for a caller (the
    kernel starting a monitor) that checks several at once."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _enabled(session, user.id)
