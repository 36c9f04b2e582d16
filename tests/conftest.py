"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

Every test that takes `backend` runs twice: on a SQLite file and on a real
PostgreSQL server. Each test session migrates one template per engine with
Alembic; each test then starts from a clean copy (SQLite: the template file
copied; PostgreSQL: a database of this session's own, truncated).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from world import acme_team

from labdeck.backend.config import Settings
from labdeck.backend.context import Actor, Backend
from labdeck.backend.db import Database
from labdeck.backend.services import identity

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("LABDECK_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect():
            pass
        engine.dispose()
        return url
    except Exception:
        if os.environ.get("LABDECK_REQUIRE_POSTGRES"):
            raise
        return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "labdeck.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL is not reachable (set LABDECK_TEST_POSTGRES_URL)")
    name = f"labdeck_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(db: Database) -> None:
    with db.engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "labdeck.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    db = Database(url)
    _truncate_postgres(db)
    db.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    storage = tmp_path / "storage"
    storage.mkdir()
    # Team connectors may point anywhere below the test's own folder.
    return Settings(
        storage_url=storage.as_uri(),
        public_url="http://127.0.0.1:8888/",
        storage_roots=(str(tmp_path),),
    )


@pytest.fixture
def backend(database_url: str, settings: Settings) -> Iterator[Backend]:
    bk = Backend(Database(database_url), settings)
    yield bk
    bk.db.dispose()


@pytest.fixture
def make_user(backend: Backend) -> Callable[..., Actor]:
    """`make_user("alice", admin=True, email="a@x.org")`: an operator-created
    account (its email verified and primary)."""

    def make(name: str, *, admin: bool = False, email: str | None = None) -> Actor:
        if email is None:
            email = f"{name}@example.org"
        return identity.create_user(backend, name, admin=admin, email=email)

    return make


@pytest.fixture
def acme(backend: Backend, make_user: Callable[..., Actor]) -> dict[str, Any]:
    """The shared world (tests/world.py): team acme, alice its admin, bob and
    carol members, vera view-only, olga outside it; name → `Actor`, and
    `team_id`."""
    return acme_team(backend, make_user)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how much of permissions.csv the run exercised (issue: the count of
    rows checked is printed by the test run)."""
    from matrix_report import MATRIX_CHECKS

    for layer, rows in sorted(MATRIX_CHECKS.items()):
        terminalreporter.write_line(
            f"permission matrix ({layer}): {len(rows)} rows of permissions.csv checked"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running
    until the session ends, which the async server tests cannot share."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid)
