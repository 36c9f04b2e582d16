"""API key revocations announced: on PostgreSQL, a key revoked or deleted
and an account deleted or removed notify the channel `labdeck_api_keys`
(LISTEN/NOTIFY), so every process of the service forgets the keys it
remembers (`keycache`, `revocations`) as the revocation commits, whichever
process, command or SQL statement wrote it. SQLite has no such channel:
nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNEL = "labdeck_api_keys"

_UPGRADE = [
    f"""CREATE FUNCTION labdeck_api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$$""",
    # Only what makes a key stop working: `last_used_at` changes on use and
    # must not wipe every process's cache.
    "CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked_at ON api_keys FOR EACH ROW "
    "WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at) "
    "EXECUTE FUNCTION labdeck_api_keys_changed()",
    "CREATE TRIGGER api_keys_removed AFTER DELETE ON api_keys FOR EACH STATEMENT "
    "EXECUTE FUNCTION labdeck_api_keys_changed()",
    "CREATE TRIGGER users_deleted AFTER UPDATE OF deleted ON users FOR EACH ROW "
    "WHEN (OLD.deleted IS DISTINCT FROM NEW.deleted) "
    "EXECUTE FUNCTION labdeck_api_keys_changed()",
    "CREATE TRIGGER users_removed AFTER DELETE ON users FOR EACH STATEMENT "
    "EXECUTE FUNCTION labdeck_api_keys_changed()",
]
_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS users_removed ON users",
    "DROP TRIGGER IF EXISTS users_deleted ON users",
    "DROP TRIGGER IF EXISTS api_keys_removed ON api_keys",
    "DROP TRIGGER IF EXISTS api_keys_revoked ON api_keys",
    "DROP FUNCTION IF EXISTS labdeck_api_keys_changed()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWNGRADE:
            op.execute(statement)
