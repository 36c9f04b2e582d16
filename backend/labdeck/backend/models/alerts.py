"""Alerts, the notification outbox, and threshold rules with their state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Alert(Base):
    """Every alert raised (custom, run end, threshold, idle); `suppressed` ones
    were repeats inside their `wait_duration` and went to nobody."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )
    event: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(8), default="INFO")
    suppressed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Notification(Base):
    """A transactional outbox: a message is written in the same transaction as
    the change that caused it, and a deliverer (SMTP, Slack) sends it later, so
    a rolled-back change never sends mail.

    A deliverer claims a row by writing its name into `lease_owner` and a
    deadline into `lease_until` (`delivery.outbox`); nobody else takes the row
    before that deadline. A failed attempt sets `next_attempt_at` (backoff);
    a permanent failure sets `failed_at` with the reason in `last_error`."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(1024))
    subject: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    failed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class AlertRule(Base):
    """A threshold rule (F-SM-11) of a person (`user_id`, over their own runs)
    or of a team (`team_id`, over the runs of the team's projects)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), nullable=True, index=True
    )
    key_pattern: Mapped[str] = mapped_column(String(512))
    comparison: Mapped[str] = mapped_column(String(2))
    value: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    channels: Mapped[Any] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertRuleState(Base):
    """Where one rule stands on one series of one run, kept at ingest so that
    evaluating a batch never reads raw points back: since when the value has
    been past the threshold (`since_t`), and whether that streak already
    raised its alert (`breached`); `last_t` is the batch's last sample time
    when it changed. A row exists only while the value is past the
    threshold."""

    __tablename__ = "alert_rule_states"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    since_t: Mapped[float | None] = mapped_column(Float, nullable=True)
    breached: Mapped[bool] = mapped_column(default=False)
    last_t: Mapped[float | None] = mapped_column(Float, nullable=True)


class AlertMark(Base):
    """A breach or a recovery of a rule on a run's series, at the sample time
    it happened: what the run's chart draws as a mark."""

    __tablename__ = "alert_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True
    )
    key: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    t: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(String(256), default="")
