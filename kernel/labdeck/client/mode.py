"""The one place that decides how this process reaches labdeck.

- **service**: the `service_url` setting (`LABDECK_SERVICE_URL`) is set, as
  JupyterHub's spawner sets it for users' servers and their kernels
  (docs/hub.md). Every call goes over REST to the service (`rest`), proven
  by `LABDECK_API_KEY` or the Hub token `JUPYTERHUB_API_TOKEN`; no database
  is opened, and a database URL in the environment is ignored.
- **direct**: otherwise. The services run in this process on the database of
  the `database_url` setting (`direct`), as the owner of `LABDECK_API_KEY`
  when it is set, else as the server's owner (`identity.process_actor`).

A process gets one client per set of settings that matter here and keeps
it: one engine, one schema check and one sign-in per process, however many
monitors, alerts, lists and charts a notebook makes (issue 13: every
`Backend.open()` used to cost an engine and an Alembic check).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from labdeck.backend.config import Settings, from_environment

from .base import Client

if TYPE_CHECKING:
    from labdeck.backend.context import Backend

SERVICE = "service"
DIRECT = "direct"

_lock = threading.Lock()
_clients: dict[tuple[str, ...], Client] = {}


def mode_of(settings: Settings) -> str:
    """ "service" when a service URL is set, else "direct"."""
    return SERVICE if settings.service_url.strip() else DIRECT


def _key(settings: Settings) -> tuple[str, ...]:
    if mode_of(settings) == SERVICE:
        return (SERVICE, settings.service_url.strip(), settings.api_key, _hub_token())
    return (DIRECT, settings.database_url, str(settings.db_nullpool), settings.api_key)


def _hub_token() -> str:
    return os.environ.get("JUPYTERHUB_API_TOKEN", "")


def client(settings: Settings | None = None) -> Client:
    """This process's client for `settings` (default: the environment's, as a
    kernel has them), made on first use and kept."""
    chosen = settings or from_environment()
    key = _key(chosen)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _make(chosen)
        return found


def _make(settings: Settings) -> Client:
    if mode_of(settings) == SERVICE:
        from .rest import RestClient, authorization

        return RestClient(
            settings.service_url.strip(), authorization(settings.api_key, _hub_token())
        )
    from labdeck.backend.context import Backend

    return for_backend(Backend.open(settings=settings))


def for_backend(backend: Backend) -> Client:
    """A direct client on a backend the caller opened itself (the CLI's
    `labdeck monitor`, benchmarks, tests), acting as the process's user."""
    from labdeck.backend.services import identity

    from .direct import DirectClient

    return DirectClient(backend, identity.process_actor(backend))


def forget() -> None:
    """Drop the kept clients and close their databases (tests, `atexit`)."""
    with _lock:
        kept = list(_clients.values())
        _clients.clear()
    for kept_client in kept:
        backend = getattr(kept_client, "backend", None)
        if backend is not None:
            backend.db.dispose()
