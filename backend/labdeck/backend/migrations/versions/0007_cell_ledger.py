"""cell ledger and saved code: each cell marker carries what its cell cost
(F-SM-12); a run's saved code (F-TS-4) is listed in run_files

CPU-seconds of the process tree, peak and delta RSS, disk and network
bytes, and per GPU its peak memory, mean utilization and energy (JSON).
Every column is nullable: markers written before this revision, and those
whose kernel did not sample a key, have no figure. `run_files` lists the
files (cell sources, a command line, a script) a run with code saving on
keeps in its project's store, in order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import labdeck.backend.models.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TIME = labdeck.backend.models.base.UTCDateTime

_BYTES = (
    "rss_peak_bytes",
    "rss_delta_bytes",
    "disk_read_bytes",
    "disk_write_bytes",
    "net_sent_bytes",
    "net_recv_bytes",
)


def upgrade() -> None:
    with op.batch_alter_table("cell_markers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpu_seconds", sa.Float(), nullable=True))
        for name in _BYTES:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "gpus",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )

    op.create_table(
        "run_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("marker_id", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_url", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(
            ["marker_id"],
            ["cell_markers.id"],
            name=op.f("fk_run_files_marker_id_cell_markers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_files_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_files")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_run_files_run_id")),
    )
    with op.batch_alter_table("run_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_files_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("run_files")
    with op.batch_alter_table("cell_markers", schema=None) as batch_op:
        batch_op.drop_column("gpus")
        for name in reversed(_BYTES):
            batch_op.drop_column(name)
        batch_op.drop_column("cpu_seconds")
