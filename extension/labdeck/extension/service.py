"""`labdeck serve`: the team's labdeck service under JupyterHub (F-ID-4).

A jupyter_server that loads the labdeck extension and nothing else, owns the
database (PostgreSQL, `LABDECK_DATABASE_URL`), and signs requests in with a
JupyterHub token checked by the Hub (`hubauth.HubTokenIdentityProvider`) or
a labdeck API key. Users' single-user servers and kernels are its clients
(`service_url`); no user process holds the database's credentials.

Run by the Hub as a managed service (`c.JupyterHub.services`), it takes
where to listen from the environment the Hub gives it
(`JUPYTERHUB_SERVICE_URL`, `JUPYTERHUB_SERVICE_PREFIX`); run by hand, give
`--ip`, `--port` and `--ServerApp.base_url` and the `JUPYTERHUB_*`
variables HubAuth needs (docs/hub.md).

Anything of jupyter_server besides labdeck's API (contents, kernels,
terminals, sessions) would let any Hub user with access to the service act
on the service's own files and processes — where the database credentials
live — so `LabdeckOnlyAuthorizer` refuses every resource but labdeck's, no
other server extension is loaded, and terminals are off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.serverapp import ServerApp
from jupyter_server.serverapp import aliases as server_aliases
from tornado import web
from traitlets import Dict, Integer, TraitError, default

from .handlers import AUTH_RESOURCE
from .hubauth import HubTokenIdentityProvider
from .workers import Workers, follow_first

WORKERS_ENV = "LABDECK_SERVE_WORKERS"
# Set by the first worker in the environment of the others it starts (their
# command line is its own): the first worker's pid.
FIRST_WORKER_ENV = "LABDECK_SERVE_FIRST_WORKER"
MAX_WORKERS = 64


class LabdeckOnlyAuthorizer(Authorizer):
    """Everything but labdeck's own REST API is refused, to everyone."""

    def is_authorized(
        self, handler: web.RequestHandler, user: Any, action: str, resource: str
    ) -> bool:
        return resource == AUTH_RESOURCE


def _hub_service_url() -> tuple[str | None, int | None]:
    url = os.environ.get("JUPYTERHUB_SERVICE_URL", "")
    if not url:
        return None, None
    parts = urlsplit(url)
    return parts.hostname, parts.port


class LabdeckService(ServerApp):
    name = "labdeck-serve"
    description = (
        "The labdeck service of a JupyterHub: the REST API over the team's database, "
        "for people signed in to the Hub (their Hub token) and labdeck API keys."
    )
    # LabdeckApp asks: this server owns the database, it is nobody's client.
    owns_labdeck_database = True
    aliases = Dict({**server_aliases, "workers": "LabdeckService.workers"})
    # The other workers, when this process is the first of several.
    _others: Workers | None = None

    workers = Integer(
        config=True,
        help=f"Processes serving requests, all on the service's one address "
        f"(SO_REUSEPORT): one core each at most, so raise it when many kernels record "
        f'(docs/hub.md, "Scale"). Default: ${WORKERS_ENV}, else 1.',
    )

    @default("workers")
    def _workers_from_env(self) -> int:
        raw = os.environ.get(WORKERS_ENV, "").strip()
        if not raw:
            return 1
        try:
            return int(raw)
        except ValueError:
            raise TraitError(f"{WORKERS_ENV} must be a whole number, not {raw!r}") from None

    def parse_command_line(self, argv: Any = None) -> None:
        super().parse_command_line(argv)
        # Checked here, where the command line and the environment have both
        # been read (traitlets does not re-validate values loaded from config).
        if not 1 <= self.workers <= MAX_WORKERS:
            raise TraitError(f"workers must be between 1 and {MAX_WORKERS}, not {self.workers}")
        if self.workers > 1 and (self.sock or not self.port):
            raise TraitError("--workers needs a TCP port of its own (--port), not 0 or a socket")

    @default("jpserver_extensions")
    def _only_labdeck(self) -> dict[str, bool]:
        return {"labdeck": True}

    def find_server_extensions(self) -> None:
        # Extensions enabled in the Jupyter config directories are for users'
        # servers; the service loads labdeck alone.
        return None

    @default("identity_provider_class")
    def _hub_identity(self) -> type:
        return HubTokenIdentityProvider

    @default("authorizer_class")
    def _labdeck_only(self) -> type:
        return LabdeckOnlyAuthorizer

    @default("terminals_enabled")
    def _no_terminals(self) -> bool:
        return False

    @default("open_browser")
    def _no_browser(self) -> bool:
        return False

    @default("allow_remote_access")
    def _behind_the_hub_proxy(self) -> bool:
        # Requests arrive through the Hub's proxy with the Hub's public Host
        # header; every one is authenticated by token, so Host is no defence.
        return True

    @default("port_retries")
    def _exact_port(self) -> int:
        # The Hub routes to one address: another port would be unreachable.
        return 0

    @default("ip")
    def _hub_ip(self) -> str:
        return _hub_service_url()[0] or "127.0.0.1"

    @default("port")
    def _hub_port(self) -> int:
        return _hub_service_url()[1] or 10101

    @default("base_url")
    def _hub_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")

    @property
    def _spawned(self) -> bool:
        """Started by the first worker: it listens beside it and starts nobody."""
        return bool(os.environ.get(FIRST_WORKER_ENV))

    @property
    def _reuse_port(self) -> bool:
        return self._spawned or self.workers > 1

    def _find_http_port(self) -> None:
        # Workers share their port: probing it without SO_REUSEPORT would find
        # it taken by the others. Their port is exact (port_retries is 0, and
        # `parse_command_line` refused port 0 and sockets).
        if not self._reuse_port:
            super()._find_http_port()

    def _bind_http_server_tcp(self) -> bool:
        if not self._reuse_port:
            return bool(super()._bind_http_server_tcp())
        try:
            self.http_server.listen(self.port, self.ip, reuse_port=True)
        except OSError as exc:
            self.log.critical("labdeck: cannot listen on %s:%s: %s", self.ip, self.port, exc)
            return False
        return True

    def _worker_command(self) -> list[str]:
        """This process's command line: the others listen where it does."""
        return [sys.executable, "-m", "labdeck.cli", "serve", *self.argv]

    def start(self) -> None:
        if self._spawned:
            follow_first(int(os.environ[FIRST_WORKER_ENV]))
        elif self.workers > 1:
            # The database is migrated (initialize ran the extension); the
            # others start once this process listens, on its event loop.
            self._others = Workers(self.workers, self._worker_command(), FIRST_WORKER_ENV, self.log)
            self.io_loop.add_callback(self._others.start)
        super().start()

    async def _cleanup(self) -> None:
        if self._others is not None:
            self._others.stop()
        await super()._cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """`labdeck serve [--ServerApp.x=…] [--LabdeckApp.x=…] [--HubAuth.x=…]`."""
    LabdeckService.launch_instance(argv=list(sys.argv[1:] if argv is None else argv))
    return 0
