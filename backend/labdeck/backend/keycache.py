"""API key → account, remembered for a few seconds (issue 9, "Scale").

Every request a recording kernel sends in client mode carries its API key,
and resolving it is a database read (plus a thread hop in the server) that
costs about as much as storing a small batch. This cache keeps the answer
for `api_key_cache_seconds` (the setting; 0 turns it off), keyed by the
key's hash: the secret itself is never kept.

How long a revoked key (or a deleted account's) can still work:

- in this process: not at all. Every service that revokes keys or deletes
  accounts calls `invalidate()` once it has committed, and a lookup that
  started before that cannot store its (stale) answer afterwards (the
  generation it read the database under is gone). Every `Backend` of one
  database in a process shares one cache (`for_database`), so this holds
  whichever of them revoked;
- in another server process on PostgreSQL (the workers of `labdeck serve
  --workers N`, several services on one database, the CLI revoking while
  the service runs): as the revocation commits. The database announces it
  (migration 0008) and each server's `revocations.RevocationListener`
  forgets every key; while that listener is not connected the cache is
  not trusted at all (`distrust`): every request looks its key up;
- in another process on SQLite (no announcement there), or behind a
  transaction-mode pooler (`db_nullpool`: no listener): at most
  `api_key_cache_seconds` after the revocation committed, the lifetime of
  what that process remembers.

Only a positive answer is kept: an unknown key is looked up every time.
"""

from __future__ import annotations

import threading
import time

# Entries at most: past it the cache starts afresh (a bound, not a policy:
# a team's kernels are a few thousand keys).
MAX_ENTRIES = 100_000


_SHARED: dict[str, KeyCache] = {}
_SHARED_LOCK = threading.Lock()


class KeyCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = max(0.0, ttl)
        self._entries: dict[str, tuple[int, float]] = {}
        self._generation = 0
        self._trusted = True
        self._lock = threading.Lock()

    @classmethod
    def for_database(cls, url: str, ttl: float) -> KeyCache:
        """The one cache of this process for the database at `url`; its
        lifetime is the shortest any of its users asked for."""
        with _SHARED_LOCK:
            cache = _SHARED.get(url)
            if cache is None:
                cache = _SHARED[url] = cls(ttl)
            cache.ttl = min(cache.ttl, max(0.0, ttl))
            return cache

    @property
    def generation(self) -> int:
        """Read before looking a key up in the database; hand it to `put`."""
        return self._generation

    def get(self, hashed: str) -> int | None:
        """The account id of a key hash looked up less than `ttl` seconds ago."""
        entry = self._entries.get(hashed) if self._trusted else None
        if entry is None:
            return None
        user_id, expires = entry
        if time.monotonic() >= expires:
            self._entries.pop(hashed, None)
            return None
        return user_id

    def put(self, hashed: str, user_id: int, generation: int) -> None:
        """Remember an answer read under `generation`, unless keys were
        revoked or accounts deleted since (then it may be stale)."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self._generation or not self._trusted:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {}
            self._entries[hashed] = (user_id, time.monotonic() + self.ttl)

    def invalidate(self) -> None:
        """Forget everything: a key was revoked or an account deleted."""
        self._reset(self._trusted)

    def distrust(self) -> None:
        """Forget everything and remember nothing until `trust()`: revocations
        made elsewhere cannot be heard now (`revocations`)."""
        self._reset(False)

    def trust(self) -> None:
        """Remember answers again, from an empty cache: revocations made
        elsewhere are heard from now on."""
        self._reset(True)

    def _reset(self, trusted: bool) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {}
            self._trusted = trusted
