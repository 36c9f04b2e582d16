"""The statements one metrics write costs: every recording kernel pays them
at each flush, so they are pinned here, and shown not to grow with the batch.

Counted with SQLAlchemy's `before_cursor_execute` on the backend's engine;
SQLite's `BEGIN IMMEDIATE` (labdeck starts SQLite transactions itself) is
left out, and COMMIT is never a cursor statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from labdeck.backend.context import Backend
from labdeck.backend.services import ingest, projects, runs


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.replace('"', "").split()
        if words[0] != "BEGIN":
            seen.append(" ".join(words[: 2 if words[0] == "UPDATE" else 3]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def batch(start: float, samples: int, keys: int) -> list[dict[str, Any]]:
    return [
        {"t": start + i, "values": {f"k.{k}": float(i * k) for k in range(keys)}}
        for i in range(samples)
    ]


def test_a_write_is_seven_statements_on_sqlite_four_on_postgres_whatever_its_size(
    backend: Backend, make_user: Any
) -> None:
    kim = make_user("kim")
    projects.create_project(backend, kim, "kim", "bench")
    run_id = runs.create_run(backend, kim, "kim", "bench")["id"]
    with counting(backend.db.engine) as first:
        ingest.write_samples(backend, kim, run_id, batch(0, 5, 30))
    steady = []
    for start, samples in ((5, 5), (10, 500)):
        with counting(backend.db.engine) as seen:
            ingest.write_samples(backend, kim, run_id, batch(start, samples, 30))
        steady.append(seen)
    one_flush = [
        "SELECT users.deleted, users.account_type,",  # account, run, project, membership, quota
        "SELECT metric_series.key, metric_series.id,",  # the run's series
        "SELECT (SELECT coalesce(sum(artifact_versions.size_bytes),",  # storage used
    ]
    if backend.db.engine.dialect.name == "sqlite":
        one_flush += [
            "INSERT INTO metric_points",
            "INSERT INTO metric_rollups",
            "UPDATE metric_series",  # counters
            "UPDATE runs",  # heartbeat
        ]
    else:  # the four writes are one statement (data-modifying CTEs)
        one_flush += ["WITH points AS"]
    assert steady[0] == steady[1] == one_flush
    # The first write of new keys also creates their series and reads them back.
    assert first == one_flush[:2] + ["INSERT INTO metric_series", one_flush[1]] + one_flush[2:]
    with counting(backend.db.engine) as beat:
        ingest.heartbeat(backend, kim, run_id)
    assert beat == [one_flush[0], "UPDATE runs"]
