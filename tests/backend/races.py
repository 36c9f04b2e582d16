"""Real concurrency for race tests: each contender is a thread with a
Backend of its own (its own engine, so its own database connection), and a
barrier releases them into their service calls at the same moment.

Used by the race tests of both databases: on PostgreSQL the calls really
overlap (READ COMMITTED, one connection each); on SQLite they queue on the
file's write lock, and the same assertions must hold."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from labdeck.backend.context import Backend
from labdeck.backend.db import Database

Job = Callable[[Backend], Any]


class Outcome:
    """What one contender's call did: its value, or the error it raised."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        return f"Outcome(error={self.error!r})" if self.error else f"Outcome({self.value!r})"


class Contenders:
    """`n` backends on one database, kept for many rounds (opening engines
    per round would cost more than the rounds)."""

    def __init__(self, backend: Backend, n: int) -> None:
        self.backends = [Backend(Database(backend.db.url), backend.settings) for _ in range(n)]
        # Open every connection before the first round, so that connecting
        # never staggers the contenders.
        for other in self.backends:
            with other.db.engine.connect():
                pass

    def run(self, jobs: Sequence[Job], timeout: float = 120.0) -> list[Outcome]:
        """Run `jobs[i]` on backend i, all released at once; every outcome."""
        assert len(jobs) <= len(self.backends)
        barrier = threading.Barrier(len(jobs))
        outcomes: list[Outcome] = [Outcome() for _ in jobs]

        def contend(i: int) -> None:
            barrier.wait()
            try:
                outcomes[i] = Outcome(jobs[i](self.backends[i]))
            except BaseException as exc:  # the test judges every outcome
                outcomes[i] = Outcome(error=exc)

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a contender hung"
        return outcomes

    def close(self) -> None:
        for other in self.backends:
            other.db.dispose()


@contextmanager
def contenders(backend: Backend, n: int) -> Iterator[Contenders]:
    pool = Contenders(backend, n)
    try:
        yield pool
    finally:
        pool.close()
