"""A SQLite file whose write lock another process holds (`BEGIN EXCLUSIVE`
on its own connection): writes answer 503 JSON with Retry-After, the outage
is logged once, and once the lock is let go the writes resume with the data
intact. The busy timeout is cut to 0.3 s so that the test need not wait 10 s
for each refusal."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from http_calls import answer, call

from labdeck.backend import db
from labdeck.backend.services import profile


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before the server opens its first connection (autouse fixtures come first).
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)


@pytest.fixture
def held_lock(database_url: str) -> Iterator[sqlite3.Connection]:
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    yield other
    other.close()


async def patch_me(jp_fetch: Any, key: str, name: str) -> tuple[int, Any, dict[str, Any]]:
    response = await call(jp_fetch, key, "PATCH", "/me", {"name": name})
    return response.code, response.headers, answer(response)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_locked_sqlite_file_answers_503_and_recovers(
    jp_fetch: Any,
    api_as: Any,
    make_user: Any,
    backend: Any,
    held_lock: sqlite3.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ann = make_user("ann")
    key = api_as(ann).key
    assert (await patch_me(jp_fetch, key, "Ann"))[0] == 200
    # The outage log is one per process: an earlier test's outage may have been
    # closed ("works again") by the write above. Only this test's outage counts.
    caplog.clear()
    held_lock.execute("BEGIN EXCLUSIVE")
    with caplog.at_level(logging.WARNING, logger="labdeck"):
        for attempt in range(3):
            code, headers, body = await patch_me(jp_fetch, key, f"Locked {attempt}")
            assert code == 503, body
            assert body["error"] == "unavailable" and "busy" in body["message"]
            assert int(headers["Retry-After"]) > 0
            assert headers["Content-Type"].startswith("application/json")
        held_lock.execute("ROLLBACK")
        assert (await patch_me(jp_fetch, key, "Ann again"))[0] == 200
    said = [r.getMessage() for r in caplog.records if r.name == "labdeck"]
    assert len([m for m in said if "the database is locked" in m]) == 1, said
    assert len([m for m in said if "works again" in m]) == 1, said
    assert profile.get_profile(backend, ann)["name"] == "Ann again"
