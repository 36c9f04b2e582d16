"""Engine, sessions and the one-transaction-per-service-call rule.

SQLite is the embedded default: the Jupyter server and every kernel open the
same file, so it runs in WAL mode with a busy timeout and foreign keys on.
PostgreSQL is used by URL for teams (the `database_url` setting,
`config.py`). Schema changes go through Alembic only. A database that
cannot serve (down, locked past the busy timeout, full) leaves every unit
of work as `errors.Unavailable` (`outages`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from . import outages

# How long a unit of work waits for SQLite's write lock before it gives up
# with 503 (`outages`). A write holds the lock briefly (a metrics write is
# capped, `ingest.MAX_POINTS_PER_CALL`), so a longer wait means a queue the
# client had better come back to than sit in, holding a server thread.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite defers BEGIN on its own; take transaction control back so that
    # the "begin" hook below decides how each unit of work starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, nullpool: bool = False, pool_size: int | None = None) -> Engine:
    """`pool_size`: the connections kept open (SQLAlchemy's default is 5). A
    process whose threads use more at once than are kept closes one after
    each unit of work and opens another for the next: on PostgreSQL a new
    server process each time (docs/hub.md, "Per-request cost")."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        database = url.split(":///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
        if database in ("", ":memory:"):
            raise ValueError("labdeck needs a SQLite file, not an in-memory database")
    else:
        kwargs["pool_pre_ping"] = True
    if nullpool:
        kwargs["poolclass"] = NullPool
    elif pool_size is not None:
        kwargs["pool_size"] = pool_size
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Any) -> None:
    """Writers take the lock up front: a deferred transaction that reads, then
    writes after another process committed, fails at once with SQLITE_BUSY
    (the busy timeout cannot help it). Readers stay deferred and never block."""
    if conn.get_execution_options().get("labdeck_readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine plus a session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str, *, nullpool: bool = False, pool_size: int | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, nullpool=nullpool, pool_size=pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(labdeck_readonly=True), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One service call: commit on success, roll back everything on error."""
        with outages.translated(writes=True), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def statements(self) -> Iterator[Connection]:
        """One service call on a hot path: Core statements in one write
        transaction, without the ORM session (identity map, flush) whose
        bookkeeping costs more than a small write itself."""
        with outages.translated(writes=True), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only unit of work; on SQLite it takes no write lock."""
        with outages.translated(writes=False), self._readers() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        from labdeck.backend.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
