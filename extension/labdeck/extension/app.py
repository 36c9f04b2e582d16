"""The jupyter_server extension application: configuration, database, routes,
and the heartbeat reaper — or, in client mode (`service_url` set, a user's
server under JupyterHub), no database at all: `/labdeck/api/*` is forwarded
to the team's labdeck service (`forward.py`, docs/hub.md).

Its configuration traits are generated from the settings declarations
(`labdeck.backend.config`): every setting the server reads is
`c.LabdeckApp.<name>` in a Jupyter config file or on the command line, and
defaults to what the one reader finds (its `LABDECK_*` environment
variable, else its default). So the server, the `labdeck` command and the
kernels read every setting alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Enum, Float, Int, List, TraitType, Unicode, default

from labdeck.backend.config import (
    SECTION,
    SPECS,
    Given,
    Kind,
    Origin,
    Part,
    Settings,
    Source,
    Spec,
    from_env_or_default,
    read,
)
from labdeck.backend.context import Backend
from labdeck.backend.db import Database
from labdeck.backend.delivery.deliverer import Deliverer
from labdeck.backend.revocations import RevocationListener

from .arrivals import Arrivals
from .forward import ServiceClient, forward_handlers
from .handlers import handler_classes
from .long_jobs import LongJobs
from .reaper import Reaper
from .routes import ROUTES
from .signin import SignInPolicy

# What the kernels this server starts inherit through their environment:
# they read no Jupyter config file, so whatever must agree between the server
# and its kernels (the database they share, the monitors' cadence) is handed
# to them here. A variable already set is left as it is.
KERNEL_EXPORTS = ("database_url", "sample_interval", "flush_interval", "public_url", "smtp_host")
# In client mode the kernels get where the service is instead, never a
# database URL: they record over REST with their own Hub token.
CLIENT_KERNEL_EXPORTS = ("service_url", "sample_interval", "flush_interval", "public_url")

SERVER_SPECS = tuple(spec for spec in SPECS.values() if Part.SERVER in spec.parts)
_CONFIGURED = Origin(Source.CONFIG_FILE, f"c.{SECTION} (Jupyter config or command line)")

App = TypeVar("App", bound=type)


def database_threads(long_job_threads: int) -> int:
    """The threads of this server that may each hold a database connection at
    once: asyncio's default executor, where short requests run (Python sizes
    it `min(32, cores + 4)`: 6 on 2 cores), the long jobs' pool, the reaper
    and the outbox's deliverer. The engine keeps that many connections open;
    with SQLAlchemy's default of 5, six busy request threads closed a
    connection after every request and opened one for the next (on
    PostgreSQL a new server process each time: docs/hub.md)."""
    return min(32, (os.cpu_count() or 1) + 4) + long_job_threads + 2


def _trait(spec: Spec) -> TraitType[Any, Any]:
    help = f"{spec.help} Environment variable: {spec.env}."
    if spec.declaration.choices:
        return Enum(spec.declaration.choices, help=help).tag(config=True)
    kinds: dict[Kind, Callable[[], TraitType[Any, Any]]] = {
        Kind.TEXT: lambda: Unicode(help=help),
        Kind.INTEGER: lambda: Int(help=help),
        Kind.NUMBER: lambda: Float(help=help),
        Kind.SECONDS: lambda: Float(help=help),
        Kind.SWITCH: lambda: Bool(help=help),
        Kind.NAMES: lambda: List(Unicode(), help=help),
        Kind.LIST: lambda: List(Unicode(), help=help),
        Kind.MAPPING: lambda: Dict(value_trait=Unicode(), help=help),
    }
    return kinds[spec.kind]().tag(config=True)


def _trait_value(spec: Spec, value: Any) -> Any:
    """A setting's value as its trait holds it."""
    if spec.kind is Kind.SECONDS:
        return value.total_seconds()
    if spec.kind is Kind.NAMES:
        return sorted(value)
    if spec.kind is Kind.LIST:
        return list(value)
    if spec.kind is Kind.MAPPING:
        return dict(value)
    return value


def _default(spec: Spec) -> Any:
    def generate(app: Any) -> Any:
        value, origin = from_env_or_default(spec, os.environ)
        derive = spec.declaration.derive
        if derive is not None and origin.source is Source.DEFAULT:
            # The app's traits carry the other settings' names.
            value = derive(app)
        return _trait_value(spec, value)

    return default(spec.name)(generate)


def with_setting_traits(cls: App) -> App:
    """`cls` with a configurable trait per setting the server reads."""
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__}
    for spec in SERVER_SPECS:
        namespace[spec.name] = _trait(spec)
        namespace[f"_default_{spec.name}"] = _default(spec)
    made: App = type(cls)(cls.__name__, (cls,), namespace)
    return made


@with_setting_traits
class LabdeckApp(ExtensionApp):
    name = "labdeck"
    description = "labdeck: team workspace and hardware monitoring"
    load_other_extensions = True

    def labdeck_settings(self) -> Settings:
        """The one reader's settings, with what this server's Jupyter config
        (files or command line) set in `c.LabdeckApp`."""
        configured = self.config.get(SECTION, {})
        given = {
            spec.name: Given(getattr(self, spec.name), _CONFIGURED)
            for spec in SERVER_SPECS
            if spec.name in configured
        }
        return read(given).settings

    def export_to_kernels(self, settings: Settings) -> None:
        client = bool(settings.service_url)
        for name in CLIENT_KERNEL_EXPORTS if client else KERNEL_EXPORTS:
            spec = SPECS[name]
            os.environ.setdefault(spec.env, spec.render(getattr(settings, name)))
        if client and os.environ.pop(SPECS["database_url"].env, None) is not None:
            # Kernels inherit this environment: a client's kernels must reach
            # the data through the service, where it checks who they are.
            self.log.warning(
                "labdeck: client mode: %s removed from the environment kernels inherit",
                SPECS["database_url"].env,
            )

    def initialize_settings(self) -> None:
        settings = self.labdeck_settings()
        self.backend: Backend | None = None
        self.reaper: Reaper | None = None
        self.deliverer: Deliverer | None = None
        self.revocations: RevocationListener | None = None
        self.service: ServiceClient | None = None
        self.long_jobs: LongJobs | None = None
        self.settings["labdeck_sign_in"] = SignInPolicy.for_this_process(
            settings.multi_user_identity_providers
        )
        if getattr(self.serverapp, "owns_labdeck_database", False) and settings.service_url:
            raise ValueError(
                "labdeck serve owns the database and is nobody's client: unset "
                f"{SPECS['service_url'].env} / c.{SECTION}.service_url for it"
            )
        if settings.service_url:
            self._start_client(settings)
        else:
            self._start_embedded(settings)
        self.export_to_kernels(settings)

    def _start_embedded(self, settings: Settings) -> None:
        database = Database(
            settings.database_url,
            nullpool=settings.db_nullpool,
            pool_size=database_threads(settings.long_job_threads),
        )
        backend = Backend(database, settings)
        backend.db.upgrade()
        self.backend = backend
        self.settings["labdeck_backend"] = backend
        self.long_jobs = LongJobs(settings.long_job_threads)
        self.settings["labdeck_long_jobs"] = self.long_jobs
        arrivals = self.settings["labdeck_arrivals"] = Arrivals(settings.kernel_writes_in_flight)
        self.reaper = Reaper(
            backend, settings.heartbeat_staleness, settings.reaper_interval, self.log, arrivals
        )
        # Started here rather than in _start_jupyter_server_extension: servers
        # embedded without ServerApp.start() (tests, other apps) never run that hook.
        self.reaper.start()
        # Links in mail go to the configured public URL, else to where this
        # server listens (known once it has bound its port, after this).
        serverapp = self.serverapp
        if serverapp is not None:
            backend.listening_url = lambda: str(serverapp.connection_url)
        # The outbox is drained by the server that owns the database: this
        # one, or `labdeck serve` (a client-mode server has neither).
        self.deliverer = Deliverer(backend)
        self.deliverer.start()
        # Keys revoked by other processes (workers, the CLI) are forgotten here
        # as they commit, where the database can say so (`revocations`). A
        # transaction-mode pooler (`db_nullpool`) does not pass LISTEN on.
        listens = database.engine.dialect.name == "postgresql" and not settings.db_nullpool
        if listens and settings.api_key_cache_seconds > 0:
            self.revocations = RevocationListener(database.engine, backend.key_cache, self.log)
            self.revocations.start()

    def _start_client(self, settings: Settings) -> None:
        """No database, no reaper (the service runs one): `/labdeck/api/*`
        goes to the service with this server's Hub token."""
        hub_token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not hub_token:
            raise ValueError(
                f"{SPECS['service_url'].env} is set but JUPYTERHUB_API_TOKEN is not: a client "
                "of the labdeck service is a JupyterHub user's server (docs/hub.md)"
            )
        self.service = ServiceClient(settings.service_url, hub_token)
        self.settings["labdeck_service"] = self.service
        self.log.info("labdeck: client of the labdeck service at %s", settings.service_url)

    def initialize_handlers(self) -> None:
        # ExtensionApp joins the server's base_url onto each pattern itself.
        if self.service is not None:
            self.handlers.extend(forward_handlers())
        else:
            self.handlers.extend(handler_classes(ROUTES))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await super()._start_jupyter_server_extension(serverapp)
        # Kernels started from now on link their alerts to where this server
        # listens, unless a public URL was configured (and exported) already.
        env = SPECS["public_url"].env
        if not os.environ.get(env):
            os.environ[env] = str(serverapp.connection_url)

    async def stop_extension(self) -> None:
        if self.reaper is not None:
            self.reaper.stop()
        if self.deliverer is not None:
            self.deliverer.stop()
        if self.revocations is not None:
            self.revocations.stop()
        if self.long_jobs is not None:
            self.long_jobs.shutdown()
        if self.backend is not None:
            self.backend.db.dispose()
        if self.service is not None:
            self.service.close()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "labdeck.extension.app", "app": LabdeckApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the sidebar panel, status bar item
    and commands), built from `extension/src/` into `labextension/` beside
    this module. Jupyter reads `src` relative to the `labdeck` package's own
    directory, which is another source root in a development checkout, so the
    path is computed; a wheel also ships it in share/jupyter/labextensions."""
    import labdeck

    built = Path(__file__).parent / "labextension"
    base = Path(labdeck.__file__).parent
    return [{"src": os.path.relpath(built, base), "dest": "labdeck"}]
