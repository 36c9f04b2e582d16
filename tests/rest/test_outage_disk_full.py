"""The disk under the SQLite file fills up: a write answers 503 JSON with
Retry-After (not a bare 500), the data already there stays whole, and writes
resume once space is freed.

The database lives on a 4 MB tmpfs mounted for the test (root can; a CI
container may not let anyone mount). Where mounting is refused, SQLite's own
`max_page_count` makes the file full instead: the same SQLITE_FULL error
("database or disk is full") through the same code path."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_calls import answer, call
from sqlalchemy import event

from labdeck.backend.services import metrics, projects, runs


def _mount_tmpfs(where: Path) -> bool:
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """(a folder, whether it is a real 4 MB file system)."""
    where = tmp_path / "small"
    mounted = _mount_tmpfs(where)
    yield where, mounted
    if mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def database_url(small_disk: tuple[Path, bool], sqlite_template: Path) -> str:
    path = small_disk[0] / "labdeck.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def fill(where: Path, leave: int) -> Path:
    """A file that takes all free space of `where` but `leave` bytes."""
    stats = os.statvfs(where)
    free = stats.f_bavail * stats.f_frsize
    filler = where / "filler"
    with open(filler, "wb") as out:
        out.truncate(0)
        out.write(b"\0" * max(free - leave, 0))
    return filler


def batch(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {"t": float(start + i), "values": {f"k{k}": float(i) for k in range(20)}} for i in range(n)
    ]


async def test_a_full_disk_answers_503_and_writes_resume_when_space_is_freed(
    jp_fetch: Any,
    api_as: Any,
    make_user: Any,
    backend: Any,
    labdeck_backend: Any,
    small_disk: tuple[Path, bool],
) -> None:
    where, mounted = small_disk
    ann = make_user("ann")
    key = api_as(ann).key
    projects.create_project(backend, ann, "ann", "p")
    run_id = runs.create_run(backend, ann, "ann", "p")["id"]

    async def post(samples: list[dict[str, Any]]) -> Any:
        return await call(jp_fetch, key, "POST", f"/runs/{run_id}/metrics", {"samples": samples})

    assert (await post(batch(0, 10))).code == 200
    engine = labdeck_backend.db.engine
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def no_room_to_grow(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 2}")

    if mounted:
        filler = fill(where, leave=32 * 1024)
    else:
        event.listen(engine, "connect", no_room_to_grow)
        engine.dispose()
    refused = await post(batch(100, 2000))
    assert refused.code == 503, refused.body
    said = answer(refused)
    assert said["error"] == "unavailable" and "disk space" in said["message"]
    assert int(refused.headers["Retry-After"]) > 0
    # What was stored before is whole.
    stored = metrics.read_series(backend, ann, run_id)["series"]
    assert len(stored) == 20 and all(len(s["t"]) == 10 for s in stored.values())
    if mounted:
        filler.unlink()
    else:
        event.remove(engine, "connect", no_room_to_grow)
        engine.dispose()
    assert (await post(batch(100, 2000))).code == 200
    stored = metrics.read_series(backend, ann, run_id)["series"]
    assert all(len(s["t"]) == 2010 for s in stored.values())
