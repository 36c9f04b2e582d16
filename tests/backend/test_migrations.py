"""Alembic is the only way the schema changes: the migrated database and the
models agree, on both engines, and `upgrade` is idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from labdeck.backend.context import Backend
from labdeck.backend.migrate import current_revision, head_revision
from labdeck.backend.models import Base


def test_models_match_migrations(backend: Backend) -> None:
    with backend.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_at_head(backend: Backend) -> None:
    backend.db.upgrade()
    assert current_revision(backend.db.engine) == head_revision()


def test_cli_creates_user_and_key_on_fresh_database(tmp_path, capsys) -> None:
    from labdeck.cli import main

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["--database-url", url, "db", "upgrade"]) == 0
    assert (
        main(
            [
                "--database-url",
                url,
                "user",
                "create",
                "alice",
                "--admin",
                "--email",
                "alice@example.com",
            ]
        )
        == 0
    )
    assert main(["--database-url", url, "key", "create", "alice"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("ldk_")
    assert main(["--database-url", url, "user", "create", "alice"]) == 1
    assert "already exists" in capsys.readouterr().err
