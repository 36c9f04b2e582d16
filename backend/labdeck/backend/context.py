"""What every service call receives: the backend (database, settings,
notifier) and the actor it acts for."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from .config import Settings, from_environment
from .db import Database
from .keycache import KeyCache
from .notifier import Notifier, OutboxNotifier


class Backend:
    """The handle every service takes first."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or Settings()
        self.notifier = notifier or OutboxNotifier()
        # API key → account for a few seconds (`keycache`: the revocation bound).
        self.key_cache = KeyCache.for_database(
            str(db.engine.url), self.settings.api_key_cache_seconds
        )
        # Where the server listens, asked only when `public_url` is not set
        # (the server knows its port once it has bound it: after the
        # extension loaded).
        self.listening_url: Callable[[], str] | None = None

    def base_url(self) -> str:
        """The base of the links labdeck sends, ending in `/`: the configured
        `public_url`, else the URL this server listens on; empty when neither
        is known (a script's own process), and then messages carry no link."""
        url = self.settings.public_url
        if not url and self.listening_url is not None:
            url = self.listening_url()
        return url if not url or url.endswith("/") else url + "/"

    def link(self, path: str) -> str:
        """An absolute link to `path` (relative to the server's root), or ""."""
        base = self.base_url()
        return base + path.lstrip("/") if base else ""

    @classmethod
    def open(
        cls, url: str | None = None, *, upgrade: bool = True, settings: Settings | None = None
    ) -> Backend:
        """The backend of a process other than the server: `settings` (the
        CLI's), else those of the environment (a kernel's); `url`, when
        given, names the database instead."""
        chosen = settings or from_environment()
        if url:
            chosen = dataclasses.replace(chosen, database_url=url)
        backend = cls(Database(chosen.database_url, nullpool=chosen.db_nullpool), chosen)
        if upgrade:
            backend.db.upgrade()
        return backend


@dataclass(frozen=True)
class Actor:
    """Who acts: the id of a user row (a person or a service account)."""

    user_id: int
