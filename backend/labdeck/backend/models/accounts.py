"""Users, their emails, API keys and personal settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from .base import Base, JSONType, utcnow


class User(Base):
    """A person, a service account (`account_type="service"`, owned by a team)
    or the tombstone of a deleted account (`deleted`, personal data cleared,
    kept so that team runs stay attributed to "a deleted user")."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    account_type: Mapped[str] = mapped_column(String(16), default="user")
    name: Mapped[str] = mapped_column(String(128), default="")
    institution: Mapped[str] = mapped_column(String(128), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(128), default="")
    website: Mapped[str] = mapped_column(String(512), default="")
    avatar_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    slack_webhook_url: Mapped[str] = mapped_column(String(512), default="")
    github_login: Mapped[str | None] = mapped_column(String(128), nullable=True)
    github_token: Mapped[str | None] = mapped_column(String(512), nullable=True)
    service_team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), nullable=True, index=True
    )
    storage_quota_bytes: Mapped[int | None] = mapped_column(nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    emails: Mapped[list[Email]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Email.id"
    )


class Email(Base):
    """One address of one account (F-EM-5: the address is unique across accounts)."""

    __tablename__ = "emails"
    __table_args__ = (
        Index(
            "uq_emails_one_primary",
            "user_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    login_methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="emails")


class EmailToken(Base):
    """A single-use, expiring verification link; only its hash is stored."""

    __tablename__ = "email_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class ApiKey(Base):
    """A secret shown once; stored as a SHA-256 hash with a public prefix."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class BetaFeature(Base):
    """A user's state for one flag of the code registry (absent row: off)."""

    __tablename__ = "beta_features"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    flag: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertPreference(Base):
    """event × channel on/off, for a user or (F-TS-2) for a team."""

    __tablename__ = "alert_preferences"
    __table_args__ = (UniqueConstraint("user_id", "team_id", "event", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), nullable=True, index=True
    )
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class GithubOAuthState(Base):
    """The `state` of an authorization-code flow in progress (F-US-5)."""

    __tablename__ = "github_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime]
