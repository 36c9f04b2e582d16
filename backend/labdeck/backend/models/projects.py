"""Projects, runs, their metric series and cell markers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
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
    # The cell's ledger (F-SM-12), written with its end by the kernel that
    # reckoned it from its samples (kernel/ledger.py); None where a key was
    # not sampled, or for a marker ended before the ledger existed.
    cpu_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    rss_peak_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rss_delta_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    disk_read_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    disk_write_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    net_sent_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    net_recv_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Per GPU: index, memory_peak_bytes, util_mean, energy_j, energy_estimated.
    gpus: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)


class RunFile(Base):
    """Code a run saved (F-TS-4): an executed cell's source, or the command
    line and script of `labdeck monitor`, one file each in the project's
    store (`storage_url`); `seq` keeps their order."""

    __tablename__ = "run_files"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(512))
    marker_id: Mapped[int | None] = mapped_column(
        ForeignKey("cell_markers.id", ondelete="SET NULL"), nullable=True
    )
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MetricRollup(Base):
    """Per series, min/max/sum/count of the points in each `tier`-second
    bucket, written at ingest. A chart of a long range reads these instead of
    every point (docs/architecture.md, "Metric storage": the 18M raw points
    of a week at 1 Hz cannot be read in 300 ms)."""

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
