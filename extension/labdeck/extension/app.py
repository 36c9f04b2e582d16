"""The jupyter_server extension application: configuration, database, routes,
and the heartbeat reaper.

Every setting is a traitlet (`c.LabdeckApp.…` in `jupyter_server_config.py`)
whose default comes from a `LABDECK_*` environment variable, so the server,
the CLI and the kernels it starts share one database and one configuration.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, List, Unicode, default

from labdeck.backend.context import GB, Backend, Settings
from labdeck.backend.db import Database, default_database_url

from .handlers import handler_classes
from .reaper import Reaper
from .routes import ROUTES


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else fallback


class LabdeckApp(ExtensionApp):
    name = "labdeck"
    description = "labdeck: team workspace and hardware monitoring"
    load_other_extensions = True

    database_url = Unicode(
        help="SQLAlchemy URL of the labdeck database. Default: $LABDECK_DATABASE_URL, else "
        "a SQLite file in the Jupyter data directory. Kernels started by this server "
        "inherit it through LABDECK_DATABASE_URL.",
    ).tag(config=True)

    @default("database_url")
    def _default_database_url(self) -> str:
        return default_database_url()

    admin_users = List(
        Unicode(),
        help="User names that are admin accounts (F-ID-2). Default: $LABDECK_ADMIN_USERS "
        "(comma-separated). The first user of a fresh database is an admin too.",
    ).tag(config=True)

    @default("admin_users")
    def _default_admin_users(self) -> list[str]:
        raw = os.environ.get("LABDECK_ADMIN_USERS", "")
        return [u.strip() for u in raw.split(",") if u.strip()]

    user_quota_bytes = Int(
        help="Storage quota of an account in bytes (default $LABDECK_USER_QUOTA_BYTES or 100 GB)."
    ).tag(config=True)

    @default("user_quota_bytes")
    def _default_user_quota(self) -> int:
        return _env_int("LABDECK_USER_QUOTA_BYTES", 100 * GB)

    team_quota_bytes = Int(
        help="Storage quota of a team in bytes (default $LABDECK_TEAM_QUOTA_BYTES or 100 GB)."
    ).tag(config=True)

    @default("team_quota_bytes")
    def _default_team_quota(self) -> int:
        return _env_int("LABDECK_TEAM_QUOTA_BYTES", 100 * GB)

    storage_url = Unicode(
        help="fsspec URL of the default file store for artifacts and run files "
        "(default $LABDECK_STORAGE_URL, else <jupyter data dir>/labdeck/storage).",
    ).tag(config=True)

    @default("storage_url")
    def _default_storage_url(self) -> str:
        return os.environ.get("LABDECK_STORAGE_URL") or Settings().storage_url

    public_url = Unicode(
        help="The server's public base URL, used in links sent by email "
        "(default $LABDECK_BASE_URL, else http://localhost:8888/).",
    ).tag(config=True)

    @default("public_url")
    def _default_public_url(self) -> str:
        return os.environ.get("LABDECK_BASE_URL", "http://localhost:8888/")

    sample_interval = Float(
        10.0,
        help="Default seconds between samples for monitors started in this server's kernels "
        "(exported to kernels as LABDECK_SAMPLE_INTERVAL; at least 0.1).",
    ).tag(config=True)

    flush_interval = Float(
        5.0,
        help="Seconds between the recorder's writes (and heartbeats) in kernels "
        "(exported as LABDECK_FLUSH_INTERVAL).",
    ).tag(config=True)

    heartbeat_staleness = Float(
        help="Seconds without a heartbeat after which a running run is marked crashed "
        "(default: 3 x flush_interval, at least 30).",
    ).tag(config=True)

    @default("heartbeat_staleness")
    def _default_staleness(self) -> float:
        return max(30.0, 3 * self.flush_interval)

    reaper_interval = Float(
        15.0, help="Seconds between two sweeps of the heartbeat reaper (0 turns it off)."
    ).tag(config=True)

    github_client_id = Unicode(
        help="OAuth app client id for the GitHub integration ($LABDECK_GITHUB_CLIENT_ID)."
    ).tag(config=True)

    @default("github_client_id")
    def _default_github_client_id(self) -> str:
        return os.environ.get("LABDECK_GITHUB_CLIENT_ID", "")

    github_client_secret = Unicode(
        help="OAuth app client secret ($LABDECK_GITHUB_CLIENT_SECRET)."
    ).tag(config=True)

    @default("github_client_secret")
    def _default_github_client_secret(self) -> str:
        return os.environ.get("LABDECK_GITHUB_CLIENT_SECRET", "")

    github_authorize_url = Unicode(
        "https://github.com/login/oauth/authorize", help="GitHub's authorize endpoint."
    ).tag(config=True)
    github_token_url = Unicode(
        "https://github.com/login/oauth/access_token", help="GitHub's token endpoint."
    ).tag(config=True)
    github_user_url = Unicode(
        "https://api.github.com/user", help="GitHub's endpoint for the signed-in user."
    ).tag(config=True)

    def labdeck_settings(self) -> Settings:
        return Settings(
            admin_users=frozenset(u.lower() for u in self.admin_users),
            user_quota_bytes=self.user_quota_bytes,
            team_quota_bytes=self.team_quota_bytes,
            storage_url=self.storage_url,
            base_url=self.public_url,
            github_client_id=self.github_client_id,
            github_client_secret=self.github_client_secret,
            github_authorize_url=self.github_authorize_url,
            github_token_url=self.github_token_url,
            github_user_url=self.github_user_url,
        )

    def initialize_settings(self) -> None:
        backend = Backend(Database(self.database_url), self.labdeck_settings())
        backend.db.upgrade()
        self.backend = backend
        self.settings["labdeck_backend"] = backend
        # Kernels started by this server record into the same database.
        os.environ.setdefault("LABDECK_DATABASE_URL", self.database_url)
        os.environ.setdefault("LABDECK_SAMPLE_INTERVAL", str(self.sample_interval))
        os.environ.setdefault("LABDECK_FLUSH_INTERVAL", str(self.flush_interval))
        self.reaper = Reaper(backend, self.heartbeat_staleness, self.reaper_interval, self.log)
        # Started here rather than in _start_jupyter_server_extension: servers
        # embedded without ServerApp.start() (tests, other apps) never run that hook.
        self.reaper.start()

    def initialize_handlers(self) -> None:
        # ExtensionApp joins the server's base_url onto each pattern itself.
        self.handlers.extend(handler_classes(ROUTES))

    async def stop_extension(self) -> None:
        self.reaper.stop()
        self.backend.db.dispose()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "labdeck.extension.app", "app": LabdeckApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return []
