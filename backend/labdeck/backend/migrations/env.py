"""Alembic environment: uses the connection handed over by `migrate.upgrade`,
or opens one from the configured URL (for `alembic revision --autogenerate`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from labdeck.backend.db import make_engine
from labdeck.backend.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
