"""The user's profile (F-US-1) and profile image (F-US-2)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Invalid, Malformed, NotFound
from ..images import square_png_thumbnail
from ..models import User

EDITABLE = ("name", "institution", "bio", "location", "website")
LINE_MAX = 128
BIO_MAX = 2000


def avatar_path(username: str) -> str:
    return f"/labdeck/api/users/{username}/avatar"


def profile_view(user: User, *, has_avatar: bool) -> dict[str, Any]:
    return {
        "username": user.username,
        "name": user.name,
        "institution": user.institution,
        "bio": user.bio,
        "location": user.location,
        "website": user.website,
        "account_type": user.account_type,
        "avatar_url": avatar_path(user.username) if has_avatar else None,
    }


def _has_avatar(session: Session, user_id: int) -> bool:
    """Asks the database instead of loading the (deferred) image bytes."""
    return bool(session.scalar(select(User.avatar_png.is_not(None)).where(User.id == user_id)))


def _one_line(value: Any, field: str) -> str:
    """Names and places are one line of text: a newline or a control
    character there only serves to break whatever displays it."""
    line = validate.text(value, field, max_len=LINE_MAX)
    if any(unicodedata.category(ch) == "Cc" for ch in line):
        raise Invalid(f"{field} must be a single line of text", field=field)
    return line


def _bio(value: Any) -> str:
    """Kept as typed (plain text, rendered as text, never as HTML); only
    control characters other than line breaks and tabs are refused."""
    bio = validate.text(value, "bio", max_len=BIO_MAX)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in bio):
        raise Invalid("bio must not contain control characters", field="bio")
    return bio


def _clean(changes: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(changes, Mapping):
        raise Malformed("the profile changes must be a JSON object")
    validate.only_fields(changes, EDITABLE)
    clean = {}
    for field, value in changes.items():
        if field == "bio":
            clean[field] = _bio(value)
        elif field == "website":
            clean[field] = validate.http_url(value, "website")
        else:
            clean[field] = _one_line(value, field)
    return clean


def get_profile(backend: Backend, actor: Actor) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return profile_view(user, has_avatar=_has_avatar(session, user.id))


def update_profile(backend: Backend, actor: Actor, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Applies every change or none: one bad field leaves the profile as it was."""
    clean = _clean(changes)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        for field, value in clean.items():
            setattr(user, field, value)
        return profile_view(user, has_avatar=_has_avatar(session, user.id))


def set_avatar(backend: Backend, actor: Actor, data: bytes) -> dict[str, Any]:
    """Decodes before the transaction: image work never holds the write lock."""
    thumbnail = square_png_thumbnail(data, field="avatar")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        user.avatar_png = thumbnail
        return profile_view(user, has_avatar=True)


def delete_avatar(backend: Backend, actor: Actor) -> dict[str, Any]:
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        user.avatar_png = None
        return profile_view(user, has_avatar=False)


def get_avatar(backend: Backend, actor: Actor, username: str) -> bytes:
    """Any signed-in user may see anyone's picture, as on a shared workspace."""
    name = validate.username(username)
    with backend.db.reader() as session:
        actor_user(session, actor)
        row = session.execute(
            select(User.avatar_png).where(User.username == name, User.deleted.is_(False))
        ).one_or_none()
        if row is None or row.avatar_png is None:
            raise NotFound(f"{name} has no profile image")
        return bytes(row.avatar_png)
