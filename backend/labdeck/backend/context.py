"""What every service call receives: the backend (database, settings,
notifier) and the actor it acts for."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from .db import Database
from .notifier import Notifier, OutboxNotifier

GB = 10**9


def _default_storage_url() -> str:
    from jupyter_core.paths import jupyter_data_dir

    return (Path(jupyter_data_dir()) / "labdeck" / "storage").as_uri()


@dataclass
class Settings:
    """Operator settings; the extension fills them from traitlets, the CLI and
    kernels from the environment (`Settings.from_env`)."""

    admin_users: frozenset[str] = frozenset()
    user_quota_bytes: int = 100 * GB
    team_quota_bytes: int = 100 * GB
    storage_url: str = field(default_factory=_default_storage_url)
    base_url: str = "http://localhost:8888/"
    email_token_ttl: dt.timedelta = dt.timedelta(hours=24)
    invitation_ttl: dt.timedelta = dt.timedelta(days=7)
    github_client_id: str = ""
    github_client_secret: str = ""
    github_authorize_url: str = "https://github.com/login/oauth/authorize"
    github_token_url: str = "https://github.com/login/oauth/access_token"
    github_user_url: str = "https://api.github.com/user"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        settings = cls()
        if env.get("LABDECK_ADMIN_USERS"):
            settings.admin_users = frozenset(
                u.strip().lower() for u in env["LABDECK_ADMIN_USERS"].split(",") if u.strip()
            )
        if env.get("LABDECK_USER_QUOTA_BYTES"):
            settings.user_quota_bytes = int(env["LABDECK_USER_QUOTA_BYTES"])
        if env.get("LABDECK_TEAM_QUOTA_BYTES"):
            settings.team_quota_bytes = int(env["LABDECK_TEAM_QUOTA_BYTES"])
        if env.get("LABDECK_STORAGE_URL"):
            settings.storage_url = env["LABDECK_STORAGE_URL"]
        if env.get("LABDECK_BASE_URL"):
            settings.base_url = env["LABDECK_BASE_URL"]
        return settings


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

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True) -> Backend:
        backend = cls(Database(url), Settings.from_env())
        if upgrade:
            backend.db.upgrade()
        return backend


@dataclass(frozen=True)
class Actor:
    """Who acts: the id of a user row (a person or a service account)."""

    user_id: int
