"""alert delivery and threshold rules: the outbox gets leases, backoff and
permanent failures; threshold rules, their per-series state and chart marks

The outbox existed since 0001 but nothing drained it. A deliverer now claims
rows with a lease (`lease_owner`, `lease_until`) so that two servers on one
database never send one row, retries at `next_attempt_at`, and gives up with
`failed_at` and the reason in `last_error`. Rows written before this
revision are delivered like new ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import labdeck.backend.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = labdeck.backend.models.base.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", _TIME(), nullable=True))
        batch_op.add_column(
            sa.Column("lease_owner", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("lease_until", _TIME(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", _TIME(), nullable=True))
        batch_op.create_index(
            "ix_notifications_due", ["sent_at", "failed_at", "next_attempt_at"], unique=False
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("lease_owner", server_default=None)

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("key_pattern", sa.String(length=512), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column(
            "channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_alert_rules_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_alert_rules_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alert_rules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_rules_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_rules_user_id"), ["user_id"], unique=False)

    op.create_table(
        "alert_rule_states",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("since_t", sa.Float(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("last_t", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alert_rule_states_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_alert_rule_states_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "run_id", "key", name=op.f("pk_alert_rule_states")),
    )
    with op.batch_alter_table("alert_rule_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_rule_states_run_id"), ["run_id"], unique=False)

    op.create_table(
        "alert_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("text", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alert_marks_rule_id_alert_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_alert_marks_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_marks")),
    )
    with op.batch_alter_table("alert_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_marks_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("alert_marks")
    op.drop_table("alert_rule_states")
    op.drop_table("alert_rules")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_due")
        batch_op.drop_column("failed_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("next_attempt_at")
