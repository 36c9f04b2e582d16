"""Revocations made by other processes, heard as they commit (PostgreSQL).

`keycache` lets a server answer a kernel's API key without the database.
A key revoked, or an account deleted, in *another* process (another worker
of `labdeck serve --workers N`, another service on the database, the CLI,
an operator's SQL) would otherwise keep working here for the cache's
lifetime. On PostgreSQL such a change notifies the channel
`labdeck_api_keys` (triggers of migration 0008, fired by whoever writes
it, delivered only if it commits); this listener, one per server process,
holds a connection of its own that LISTENs on it and forgets every key at
each notification.

While the listener is not connected (starting, the database restarting,
the network cut: a dead connection is noticed within about ten seconds
through TCP keepalives) nothing could be heard, so the cache is not
trusted at all: every request looks its key up, as with
`api_key_cache_seconds = 0`, until the listener is back and the cache
starts empty. SQLite has no such channel, and a transaction-mode pooler
(`db_nullpool`) does not pass LISTEN on, so no listener runs there: the
cache's lifetime stays the bound for other processes (docs/hub.md).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from .keycache import KeyCache

CHANNEL = "labdeck_api_keys"
_POLL = 0.25
_RETRY_FIRST = 0.5
_RETRY_MAX = 10.0
# Seconds of silence before libpq probes the connection, between probes, and
# probes lost before it counts the connection dead.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class RevocationListener:
    """LISTEN on `CHANNEL` for `cache`, on a daemon thread, reconnecting."""

    def __init__(self, engine: Engine, cache: KeyCache, log: logging.Logger) -> None:
        args, params = engine.dialect.create_connect_args(engine.url)
        self._connect_args: tuple[Any, ...] = tuple(args)
        self._connect_params = {**params, **_KEEPALIVES, "autocommit": True}
        self._cache = cache
        self._log = log
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labdeck-revocations", daemon=True)

    def start(self) -> None:
        self._cache.distrust()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_POLL * 5)

    def _run(self) -> None:
        # Imported here: the driver is the `postgres` extra, and an embedded
        # (SQLite) server imports this module without it.
        import psycopg

        delay = _RETRY_FIRST
        warned = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(*self._connect_args, **self._connect_params) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._cache.trust()
                    self.listening.set()
                    if warned:
                        self._log.info("labdeck: hearing API key revocations again")
                    delay, warned = _RETRY_FIRST, False
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=_POLL):
                            self._cache.invalidate()
            except psycopg.Error as exc:
                if not warned:
                    self._log.warning(
                        "labdeck: cannot hear API key revocations (%s); every request "
                        "looks its key up until the database answers again",
                        exc,
                    )
                    warned = True
            finally:
                # Whatever ended the connection, nothing is heard until the next one.
                self.listening.clear()
                if not self._stop.is_set():
                    self._cache.distrust()
            self._stop.wait(delay)
            delay = min(_RETRY_MAX, delay * 2)
