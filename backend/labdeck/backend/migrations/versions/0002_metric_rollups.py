"""metric rollups: per-bucket summaries written at ingest

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:10:22.450194
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIERS = (10, 60, 600, 3600)


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Float(), nullable=False),
        sa.Column("vmin", sa.Float(), nullable=False),
        sa.Column("vmax", sa.Float(), nullable=False),
        sa.Column("vsum", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["metric_series.id"],
            name=op.f("fk_metric_rollups_series_id_metric_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "tier", "bucket", name=op.f("pk_metric_rollups")),
    )
    # Runs recorded before this revision get their summaries from their points.
    floor = (
        "floor(t / {tier})"
        if op.get_bind().dialect.name == "postgresql"
        else ("CAST(t / {tier} AS INTEGER)")
    )
    for tier in TIERS:
        bucket = floor.format(tier=tier) + f" * {tier}"
        op.execute(
            "INSERT INTO metric_rollups (series_id, tier, bucket, vmin, vmax, vsum, count) "
            f"SELECT series_id, {tier}, {bucket}, min(v), max(v), sum(v), count(*) "
            f"FROM metric_points GROUP BY series_id, {bucket}"
        )


def downgrade() -> None:
    op.drop_table("metric_rollups")
