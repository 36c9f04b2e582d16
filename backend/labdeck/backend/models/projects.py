"""Projects, runs, their metric series and cell markers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class Project(Base):
    """Owned by a team (`team_id`) or a user (`owner_id`); `entity` is that
    owner's name, which is unique across users and teams."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("entity", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), nullable=True, index=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    visibility: Mapped[str] = mapped_column(String(16), default="team")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One monitored session. `created_by` is who logged it (a user, or the
    member a service account attributed it to); `logged_by` is the identity
    whose key wrote it."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="running", index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    logged_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    system: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class MetricSeries(Base):
    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(512))
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_t: Mapped[float | None] = mapped_column(Float, nullable=True)


class MetricPoint(Base):
    """The hot table: one narrow row a point, written in batches."""

    __tablename__ = "metric_points"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    t: Mapped[float] = mapped_column(Float, primary_key=True)
    v: Mapped[float] = mapped_column(Float)


class CellMarker(Base):
    """A notebook cell's execution while a run was monitoring (F-SM-9)."""

    __tablename__ = "cell_markers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    execution_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_line: Mapped[str] = mapped_column(String(512), default="")
    start_t: Mapped[float] = mapped_column(Float)
    end_t: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[bool] = mapped_column(default=False)


class MetricRollup(Base):
    """Per series, min/max/sum/count of the points in each `tier`-second
    bucket, written at ingest. A chart of a long range reads these instead of
    every point (NOTES-storage: 18M raw points cannot be read in 300 ms)."""

    __tablename__ = "metric_rollups"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[float] = mapped_column(Float, primary_key=True)
    vmin: Mapped[float] = mapped_column(Float)
    vmax: Mapped[float] = mapped_column(Float)
    vsum: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)
