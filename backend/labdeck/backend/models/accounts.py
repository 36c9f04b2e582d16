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

from ..roles import AccountType
from .base import Base, JSONType, utcnow


class User(Base):
    """A person, a service account (`AccountType.SERVICE`, owned by a team)
    or the tombstone of a deleted account (`deleted`, personal data cleared,
    kept so that team runs stay attributed to "a deleted user")."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The URL handle (`{entity}`), derived from the external name: never how
    # someone is recognised at sign-in (labdeck.backend.names).
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # Who the sign-in says this person is: the name as given (NFC) and the
    # casefolded key accounts are found by. None for service accounts and
    # tombstones, whom nobody signs in as.
    external_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    external_key: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    account_type: Mapped[str] = mapped_column(String(16), default=AccountType.USER.value)
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
    """One address of one account. Until it is verified it is only a claim:
    several accounts may claim one address, and one account at most has it
    verified (F-EM-5; `uq_emails_verified_address`)."""

    __tablename__ = "emails"
    __table_args__ = (
        Index(
            "uq_emails_one_primary",
            "user_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
        Index(
            "uq_emails_verified_address",
            "address",
            unique=True,
            sqlite_where=text("verified"),
            postgresql_where=text("verified"),
        ),
        UniqueConstraint("user_id", "address"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
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


class VerificationMail(Base):
    """A verification message sent (or withheld because the address is
    another account's): the log the per-address and per-account limits
    count. Rows older than the longest limit's window are dropped."""

    __tablename__ = "verification_mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


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


class BetaFeatureChoice(Base):
    """A user's choice for one beta feature of the code's catalogue
    (`services.beta_features`); no row means off. The column keeps its
    first name, `flag`."""

    __tablename__ = "beta_features"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column("flag", String(64), primary_key=True, key="name")
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
