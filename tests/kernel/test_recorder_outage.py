"""A kernel's recorder rides out a database it cannot write to (the SQLite
file locked by another process): it keeps the samples and writes them once
the lock is gone, instead of taking the 503 for "this run takes no more
samples"."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from labdeck.backend import db
from labdeck.backend.context import Actor, Backend, Settings
from labdeck.backend.db import Database
from labdeck.backend.services import identity, ingest, metrics, projects, runs
from labdeck.client.direct import DirectClient
from labdeck.kernel.recorder import Recorder


@pytest.fixture
def recording(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Backend, Actor, Recorder]]:
    """kim's run on a SQLite file, and a recorder that flushes when told."""
    path = tmp_path / "labdeck.db"
    path.write_bytes(sqlite_template.read_bytes())
    backend = Backend(Database(f"sqlite:///{path}"), Settings(storage_url=tmp_path.as_uri()))
    kim = identity.create_user(backend, "kim")
    projects.create_project(backend, kim, "kim", "p")
    run_id = runs.create_run(backend, kim, "kim", "p")["id"]
    yield backend, kim, Recorder(DirectClient(backend, kim), run_id, flush_interval=3600)
    backend.db.dispose()


def test_a_locked_database_delays_the_samples_and_loses_none(
    recording: tuple[Backend, Actor, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    backend, kim, recorder = recording
    backend.db.dispose()  # new connections, with the short timeout
    run_id = recorder.run_id
    other = sqlite3.connect(backend.db.url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    for t in range(5):
        recorder(float(t), {"cpu": float(t)})
    recorder.flush()
    assert recorder.samples_written == 0 and not recorder._stop.is_set()
    other.execute("ROLLBACK")
    recorder(5.0, {"cpu": 5.0})
    recorder.flush()
    assert recorder.samples_written == 6 and recorder.dropped == 0
    assert metrics.read_series(backend, kim, run_id)["series"]["cpu"]["t"] == [
        0.0,
        1.0,
        2.0,
        3.0,
        4.0,
        5.0,
    ]
    other.close()


def test_a_backlog_bigger_than_one_call_is_written_in_parts(
    recording: tuple[Backend, Actor, Recorder],
) -> None:
    backend, kim, recorder = recording
    run_id = recorder.run_id
    values = {f"k{k}": 1.0 for k in range(30)}
    samples = 2 * ingest.MAX_POINTS_PER_CALL // 30 + 1  # three calls' worth
    for t in range(samples):
        recorder(float(t), values)
    recorder.flush()
    assert recorder.samples_written == samples and not recorder._stop.is_set()
    series = metrics.read_series(backend, kim, run_id, keys=["k0"])["series"]["k0"]
    assert len(series["t"]) == samples
