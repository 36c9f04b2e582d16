"""The one place that turns a database that cannot serve into `Unavailable`
(503 JSON with Retry-After), and says so in the log once per outage.

A database that is down (refused, terminated, shutting down), locked (the
SQLite file's write lock not had within the busy timeout, a PostgreSQL lock
timeout), full (no disk left), or a write that lost a deadlock or a
serialization race, is not the request's fault: the client should try again
later, and nothing was changed (the unit of work rolled back). Every unit of
work of `db.Database` runs inside `translated()`, so every service, the
REST handlers, the CLI and the kernels get the same typed error.

The log: the first failure of an outage is logged with its cause (for the
operator: it may name a file or a host, which clients never see); the ones
that follow while it lasts are only counted, and the first success after
it (the first write: a locked SQLite file still serves reads) logs the
recovery with that count. A new kind of failure (locked, then
full) is logged again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from .errors import Unavailable

log = logging.getLogger("labdeck")


@dataclass(frozen=True)
class Outage:
    kind: str
    message: str
    retry_after: int


LOCKED = Outage("locked", "the database is busy; try again in a moment", 2)
DOWN = Outage("down", "the database is not reachable right now; try again shortly", 10)
FULL = Outage("full", "the database has run out of disk space; try again later", 60)
RACED = Outage("raced", "this write clashed with another one; try again", 1)

# SQLite result codes (primary code: the low byte of the extended one).
_SQLITE = {5: LOCKED, 6: LOCKED, 13: FULL, 10: DOWN, 14: DOWN, 8: DOWN}
# PostgreSQL SQLSTATE classes and codes.
_PG_CODES = {
    "53100": FULL,
    "40001": RACED,
    "40P01": RACED,
    "55P03": LOCKED,
    "57014": LOCKED,
    "57P01": DOWN,
    "57P02": DOWN,
    "57P03": DOWN,
}
_PG_CLASSES = {"08": DOWN, "53": DOWN, "58": DOWN}


def classify(exc: DBAPIError) -> Outage | None:
    """The outage an error of the database driver means, or None when it is
    something else (a constraint, a bug: those are not the database's state)."""
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return _SQLITE.get(code & 0xFF)
        text = str(orig).lower()
        if "locked" in text or "busy" in text:
            return LOCKED
        if "disk is full" in text:
            return FULL
        if "disk i/o" in text or "unable to open" in text:
            return DOWN
        return None
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        return _PG_CODES.get(state) or _PG_CLASSES.get(state[:2])
    if exc.connection_invalidated or type(orig).__name__ in ("OperationalError", "InterfaceError"):
        # A driver error without a SQLSTATE: the server never answered.
        return DOWN
    return None


class _Log:
    """What has been logged of the current outage (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Outage | None = None
        self.repeats = 0

    def failed(self, outage: Outage, exc: DBAPIError) -> None:
        with self._lock:
            if self.current is outage:
                self.repeats += 1
                return
            self.current, self.repeats = outage, 0
        log.warning(
            "labdeck: the database is %s; answering 503 until it recovers: %s",
            outage.kind,
            exc.orig,
        )

    def succeeded(self) -> None:
        if self.current is None:  # the common case costs one attribute read
            return
        with self._lock:
            outage, repeats = self.current, self.repeats
            self.current, self.repeats = None, 0
        if outage is not None:
            log.warning(
                "labdeck: the database works again (it was %s; %d more requests were refused)",
                outage.kind,
                repeats,
            )


_log = _Log()


@contextmanager
def translated(*, writes: bool) -> Iterator[None]:
    """Run one unit of work; a database outage leaves it as `Unavailable`.
    Only a unit that `writes` proves an outage over (a locked SQLite file
    still serves reads)."""
    try:
        yield
    except DBAPIError as exc:
        outage = classify(exc)
        if outage is None:
            raise
        _log.failed(outage, exc)
        raise Unavailable(outage.message, retry_after=outage.retry_after) from exc
    if writes:
        _log.succeeded()
