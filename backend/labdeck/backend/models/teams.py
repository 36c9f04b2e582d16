"""Organizations, teams, memberships, invitations, custom roles."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from .base import Base, JSONType, utcnow


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OrgMember(Base):
    """Organization membership: who administers it, and the Models/Weave
    access that the organization's teams inherit (F-TM-2)."""

    __tablename__ = "org_members"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    models_access: Mapped[str] = mapped_column(String(16), default="full")
    weave_access: Mapped[str] = mapped_column(String(16), default="full")


class CustomRole(Base):
    """A base role (view_only or member) plus extra actions (F-TM-5)."""

    __tablename__ = "custom_roles"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    base_role: Mapped[str] = mapped_column(String(16))
    extra_actions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Team(Base):
    """`name` is stored lower-case and has no setter anywhere: it never changes."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    force_private: Mapped[bool] = mapped_column(Boolean, default=False)
    code_saving_default: Mapped[bool] = mapped_column(Boolean, default=False)
    storage_url: Mapped[str] = mapped_column(String(1024), default="")
    storage_quota_bytes: Mapped[int | None] = mapped_column(nullable=True)
    slack_webhook_url: Mapped[str] = mapped_column(String(512), default="")
    alert_email: Mapped[str] = mapped_column(String(320), default="")
    avatar_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    intro: Mapped[str] = mapped_column(Text, default="")
    profile_public: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """`role` is admin, member or view_only; with a custom role it holds the
    custom role's base and `custom_role_id` points at the extras."""

    __tablename__ = "memberships"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    custom_role_id: Mapped[int | None] = mapped_column(
        ForeignKey("custom_roles.id", ondelete="SET NULL"), nullable=True
    )
    registry_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))
    custom_role_id: Mapped[int | None] = mapped_column(
        ForeignKey("custom_roles.id", ondelete="SET NULL"), nullable=True
    )
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
