"""System settings that only admin accounts change ("configure system
settings"): per-account and per-team storage quotas, overriding the
operator's default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import permissions
from ..access import account_subject, actor_user, find_team
from ..context import Actor, Backend
from ..errors import Invalid, NotFound
from ..models import User

MAX_QUOTA = 10**18


def set_storage_quota(
    backend: Backend, actor: Actor, kind: str, name: str, quota_bytes: int | None
) -> dict[str, Any]:
    """`kind` is "user" or "team"; `quota_bytes` None returns to the default."""
    if kind not in ("user", "team"):
        raise Invalid("kind must be user or team", field="kind")
    if quota_bytes is not None and (
        isinstance(quota_bytes, bool)
        or not isinstance(quota_bytes, int)
        or not 0 <= quota_bytes <= MAX_QUOTA
    ):
        raise Invalid("quota_bytes must be a whole number of bytes", field="quota_bytes")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        permissions.require("configure system settings", account_subject(user))
        target: Any
        if kind == "team":
            target = find_team(session, name)
        else:
            target = session.scalar(select(User).where(User.username == name.strip().lower()))
        if target is None:
            raise NotFound(f"no {kind} named {name!r}")
        target.storage_quota_bytes = quota_bytes
        default = (
            backend.settings.team_quota_bytes
            if kind == "team"
            else backend.settings.user_quota_bytes
        )
        return {
            "kind": kind,
            "name": name,
            "quota_bytes": quota_bytes if quota_bytes is not None else default,
        }
