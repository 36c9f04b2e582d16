"""external identities: the sign-in name of an account, kept apart from its handle

Until this revision an account was found by its handle (`username`), itself a
lossy fold of the sign-in name, so distinct people could land on one
account (`josé` on `jos`, `alice!` on `alice`). Accounts are now found by
`external_key` (labdeck.backend.names.key), unique; the handle is only
derived. Existing people keep signing in as themselves: their handle, which
is lower-case ASCII and so its own key, becomes their external name. Service
accounts and tombstones get none (nobody signs in as them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("external_key", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_external_key"), ["external_key"])
    op.execute(
        "UPDATE users SET external_name = username, external_key = username "
        "WHERE account_type <> 'service' AND NOT deleted"
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_external_key"), type_="unique")
        batch_op.drop_column("external_key")
        batch_op.drop_column("external_name")
