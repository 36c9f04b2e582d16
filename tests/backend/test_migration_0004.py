"""Revision 0004 rebuilds `emails` on SQLite: the rows that reference it
(verification links) survive, and so does every index of the table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from labdeck.backend.db import Database
from labdeck.backend.migrate import head_revision, upgrade


def test_upgrading_keeps_the_rows_that_reference_emails(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0002")
    rows = {
        "users": "(id, username, account_type, name, institution, bio, location, website, "
        "slack_webhook_url, deleted, created_at) "
        "VALUES (1, 'ann', 'user', '', '', '', '', '', '', 0, '2026-01-01')",
        "emails": "(id, user_id, address, verified, is_primary, login_methods, created_at) "
        "VALUES (7, 1, 'ann@example.org', 0, 1, '[]', '2026-01-01')",
        "email_tokens": "(id, email_id, token_hash, expires_at) VALUES (1, 7, 'h', '2027-01-01')",
    }
    with db.engine.begin() as conn:
        for table, values in rows.items():
            conn.execute(text(f"INSERT INTO {table} {values}"))
    upgrade(db.engine, head_revision() or "head")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT email_id FROM email_tokens")).scalars().all() == [7]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("emails")}
    assert {"uq_emails_one_primary", "uq_emails_verified_address", "ix_emails_user_id"} <= indexes
    db.dispose()
