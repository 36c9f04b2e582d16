"""an address is unique among verified emails only; a log of verification mails

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02 07:00:00.000000

An unverified address is a claim that must not keep the address's owner
from adding and verifying it (issue 10, item 11): the unique constraint on
`emails.address` becomes a unique index over verified rows, plus one
address per account. `verification_mails` is what the rate limits of
verification mails count (item 12).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import labdeck.backend.models.base

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_constraint("uq_emails_address", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_emails_user_id"), ["user_id", "address"])
        batch_op.create_index(batch_op.f("ix_emails_address"), ["address"], unique=False)
        batch_op.create_index(
            "uq_emails_verified_address",
            ["address"],
            unique=True,
            sqlite_where=sa.text("verified"),
            postgresql_where=sa.text("verified"),
        )
    op.create_table(
        "verification_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", labdeck.backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_verification_mails_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_mails")),
    )
    with op.batch_alter_table("verification_mails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_mails_address"), ["address"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_mails_sent_at"), ["sent_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_mails_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("verification_mails")
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_index("uq_emails_verified_address")
        batch_op.drop_index(batch_op.f("ix_emails_address"))
        batch_op.drop_constraint(batch_op.f("uq_emails_user_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_emails_address"), ["address"])
