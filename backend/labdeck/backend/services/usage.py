"""Storage used against quota, for the account (F-US-7) and a team (F-TS-5).

The numbers come from `storage`, the same accounting that refuses writes
past the quota, so what a user sees is what is enforced.
"""

from __future__ import annotations

from typing import Any

from .. import storage
from ..access import actor_user, require_team, visible_team
from ..context import Actor, Backend


def _view(used: int, quota: int) -> dict[str, Any]:
    percent = round(100 * used / quota, 2) if quota > 0 else 100.0
    return {"used_bytes": used, "quota_bytes": quota, "percent": percent}


def get_user_storage(backend: Backend, actor: Actor) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _view(storage.usage_for_user(session, user.id), storage.user_quota(backend, user))


def get_team_storage(backend: Backend, actor: Actor, team: str) -> dict[str, Any]:
    """Team admins only ("view team settings"); non-members get 404."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require_team(session, user, found, "view team settings")
        return _view(storage.usage_for_team(session, found.id), storage.team_quota(backend, found))
