"""Every operator setting, declared once, and the one reader of them.

Each field of `Settings` is one setting. Its declaration (`setting(...)`)
holds all there is to know about it: the name (also the Jupyter trait
`c.LabdeckApp.<name>`), the type (the annotation), the default, the
environment variable (`LABDECK_<NAME>` unless named), the help, and which
parts of labdeck read it. Adding a setting is adding one field here: the
server extension's traits, the command line, the kernels, `labdeck config`
and docs/configuration.md (`labdeck.backend.configdocs`) all follow.

Where a value comes from, lowest precedence first: the default, the
environment variable, a Jupyter config file (`c.LabdeckApp.<name>`), the
command line. `read()` is the one reader: the server's trait defaults, the
CLI and the kernels (`from_environment()`) all go through it, so they parse
a value the same way and agree on what is unset (an empty variable is).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import names

GB = 10**9
ENV_PREFIX = "LABDECK_"


class Part(str, enum.Enum):
    """The parts of labdeck that read settings."""

    SERVER = "server"
    CLI = "cli"
    KERNEL = "kernel"


EVERY_PART = frozenset(Part)
SERVER_ONLY = frozenset({Part.SERVER})
# The monitored processes: kernels, and `labdeck monitor -- CMD`. The server
# reads none of these (it exports the intervals to the kernels it starts).
MONITORS = frozenset({Part.CLI, Part.KERNEL})
# What reaches the file stores: the server's services, and `labdeck storage`.
SERVER_AND_CLI = frozenset({Part.SERVER, Part.CLI})


class Source(str, enum.Enum):
    DEFAULT = "default"
    ENVIRONMENT = "environment variable"
    CONFIG_FILE = "config file"
    COMMAND_LINE = "command line"


class SettingError(ValueError):
    """A setting's value cannot be read: the message names where it came from."""


@dataclass(frozen=True)
class Origin:
    """Where an effective value came from: a `Source`, and which variable,
    file or option it was."""

    source: Source
    where: str = ""

    def __str__(self) -> str:
        return f"{self.source.value} {self.where}".strip()


@dataclass(frozen=True)
class Given:
    """A value set in a config file or on the command line."""

    value: Any
    origin: Origin


@dataclass(frozen=True)
class Declaration:
    help: str
    parts: frozenset[Part]
    env: str | None
    deprecated_env: tuple[str, ...]
    secret: bool
    separator: str
    choices: tuple[str, ...]
    default_doc: str | None
    derive: Callable[[Any], Any] | None
    clean: Callable[[Any], Any] | None


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    parts: frozenset[Part] = EVERY_PART,
    factory: Callable[[], Any] | None = None,
    env: str | None = None,
    deprecated_env: tuple[str, ...] = (),
    secret: bool = False,
    separator: str = ",",
    choices: tuple[str, ...] = (),
    default_doc: str | None = None,
    derive: Callable[[Any], Any] | None = None,
    clean: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare a setting (a field of `Settings`).

    `factory` computes a default that depends on the machine (then give
    `default_doc`, how the docs describe it). `separator` splits a list
    from its environment variable (`"json"`: a JSON array). `choices` are
    the only values a text setting takes. `derive(s)` computes the value
    from the other settings when this one is not set anywhere. `clean`
    normalizes any value read (a `ValueError` from it refuses the value,
    naming where it came from). `secret` masks the value
    in `labdeck config`. `deprecated_env` are older variable names still
    read, with a warning.
    """
    declaration = Declaration(
        help=help,
        parts=parts,
        env=env,
        deprecated_env=deprecated_env,
        secret=secret,
        separator=separator,
        choices=choices,
        default_doc=default_doc,
        derive=derive,
        clean=clean,
    )
    metadata = {"labdeck": declaration}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _data_dir_path(*parts: str) -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir(), "labdeck", *parts)


def _default_database_url() -> str:
    return f"sqlite:///{_data_dir_path('labdeck.db')}"


def _default_storage_url() -> str:
    return _data_dir_path("storage").as_uri()


def _lower_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.strip().lower() for name in names if name.strip())


def _at_least_one(value: int) -> int:
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _not_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must not be negative")
    return value


@dataclass
class Settings:
    """The operator's settings, as every service receives them (`Backend.settings`)."""

    database_url: str = setting(
        factory=_default_database_url,
        default_doc="a SQLite file, `<jupyter data dir>/labdeck/labdeck.db`",
        help="SQLAlchemy URL of the labdeck database, e.g. "
        "`postgresql+psycopg://user@host/db` (install `labdeck[postgres]`). The server "
        "exports it to the kernels it starts.",
    )
    db_nullpool: bool = setting(
        False,
        help="Open a new database connection for each unit of work instead of keeping a "
        "pool: for PostgreSQL behind a transaction-mode pooler (PgBouncer), or to keep "
        "idle kernels from holding connections. Costs a connect per call.",
    )
    admin_users: frozenset[str] = setting(
        frozenset(),
        clean=names.keys,
        help="Names (as the Jupyter or JupyterHub sign-in gives them, compared "
        "case-insensitively) whose accounts are admin accounts. The first person of a "
        "fresh database is an admin too, unless a JupyterHub says who its admins are.",
    )
    multi_user_identity_providers: tuple[str, ...] = setting(
        (),
        parts=SERVER_ONLY,
        help="Dotted class names of custom jupyter_server IdentityProviders that sign in "
        "several different people (subclasses count). Their user names are taken as who "
        "each person is. JupyterHub's (`jupyterhub-singleuser`, `labdeck serve`) are always "
        "taken so; any other provider (token, password, none) is single-user: whoever "
        "signs in is the server's owner, the account its kernels act as.",
    )
    user_quota_bytes: int = setting(
        100 * GB, help="Storage quota of an account in bytes, unless an admin set its own."
    )
    team_quota_bytes: int = setting(
        100 * GB, help="Storage quota of a team in bytes, unless an admin set its own."
    )
    storage_url: str = setting(
        factory=_default_storage_url,
        default_doc="`<jupyter data dir>/labdeck/storage`",
        help="fsspec URL of the default file store for artifacts and run files.",
    )
    storage_schemes: frozenset[str] = setting(
        frozenset({"file", "s3", "gs", "gcs", "az"}),
        parts=SERVER_AND_CLI,
        clean=_lower_names,
        help="The URL schemes a team's storage connector may use. The server itself "
        "writes there (the check when it is saved, then every artifact), so a scheme "
        "allowed here is one the server dials wherever a team admin points it; `file` "
        "only below `storage_roots`.",
    )
    storage_roots: tuple[str, ...] = setting(
        factory=lambda: (str(_data_dir_path("team-storage")),),
        parts=SERVER_AND_CLI,
        separator=os.pathsep,
        default_doc="`<jupyter data dir>/labdeck/team-storage`",
        help="The local folders below which a team's `file://` storage connector may point "
        "(nothing outside them is written, or created).",
    )
    storage_timeout: float = setting(
        30.0,
        parts=SERVER_AND_CLI,
        help="Seconds one storage call (a connector check, writing or reading one file, "
        "removing a folder) may take before it is given up: the check answers 422, an "
        "upload or download 503.",
    )
    public_url: str = setting(
        "",
        deprecated_env=("LABDECK_BASE_URL",),
        default_doc="empty: the URL the server actually listens on",
        help="The server's public base URL, used in the links labdeck sends "
        "(email verification, invitations, alerts, the GitHub OAuth callback). Empty: "
        "the URL the server listens on (its `connection_url`). The server exports it to "
        "the kernels it starts, whose alerts link to their runs.",
    )
    smtp_host: str = setting(
        "",
        parts=SERVER_ONLY,
        help="SMTP server that labdeck's mail goes through (verification links, "
        "invitations, alerts). Empty: no mail is sent, and the forms and the API say so.",
    )
    smtp_port: int = setting(
        0,
        parts=SERVER_ONLY,
        default_doc="0: 465 for `tls`, 587 for `starttls`, 25 for `none`",
        help="Port of the SMTP server.",
    )
    smtp_security: str = setting(
        "starttls",
        parts=SERVER_ONLY,
        choices=("starttls", "tls", "none"),
        help="How the SMTP connection is protected: `starttls` (upgrade a plain "
        "connection, refused if the server cannot), `tls` (TLS from the first byte, "
        '"SMTPS"), `none` (plain: only for a relay on the same host).',
    )
    smtp_user: str = setting(
        "", parts=SERVER_ONLY, help="User name to log in to the SMTP server (empty: no login)."
    )
    smtp_password: str = setting(
        "", parts=SERVER_ONLY, secret=True, help="Password to log in to the SMTP server."
    )
    smtp_sender: str = setting(
        "",
        parts=SERVER_ONLY,
        default_doc="empty: `labdeck@<smtp_host>`",
        help="The From address of labdeck's mail, e.g. `labdeck <labdeck@example.org>`.",
    )
    smtp_timeout: float = setting(
        30.0,
        parts=SERVER_ONLY,
        help="Seconds one SMTP conversation or one Slack webhook call may take before "
        "the attempt counts as failed (and is retried).",
    )
    delivery_interval: float = setting(
        5.0,
        parts=SERVER_ONLY,
        help="Seconds between two looks of the server's deliverer at the outbox of mail and "
        "Slack messages (0 turns delivery off in this server).",
    )
    delivery_backoff: float = setting(
        10.0,
        parts=SERVER_ONLY,
        help="Seconds before the first retry of a message that could not be sent; each "
        "further wait doubles, up to an hour.",
    )
    delivery_max_attempts: int = setting(
        8,
        parts=SERVER_ONLY,
        clean=_at_least_one,
        help="Attempts at one message (with `delivery_backoff` between them) before it is "
        "marked failed for good, with the last reason, for admins to see.",
    )
    slack_http_hosts: frozenset[str] = setting(
        frozenset(),
        clean=_lower_names,
        help="Hosts to which a Slack webhook URL may be plain `http://` (a relay on this "
        "machine, e.g. `127.0.0.1`); any other webhook must be `https://`. The server posts "
        "to whatever URL users save, so name only hosts whose every port may receive it.",
    )
    email_token_ttl: dt.timedelta = setting(
        dt.timedelta(hours=24), help="Seconds an email verification link stays valid."
    )
    invitation_ttl: dt.timedelta = setting(
        dt.timedelta(days=7), help="Seconds a team invitation stays open."
    )
    github_client_id: str = setting(
        "", help="OAuth app client id for the GitHub integration (empty: turned off)."
    )
    github_client_secret: str = setting("", secret=True, help="OAuth app client secret.")
    github_authorize_url: str = setting(
        "https://github.com/login/oauth/authorize", help="GitHub's authorize endpoint."
    )
    github_token_url: str = setting(
        "https://github.com/login/oauth/access_token", help="GitHub's token endpoint."
    )
    github_user_url: str = setting(
        "https://api.github.com/user", help="GitHub's endpoint for the signed-in user."
    )
    sample_interval: float = setting(
        10.0,
        help="Default seconds between two samples of a monitor (at least 0.1). The server "
        "exports its value to the kernels it starts.",
    )
    flush_interval: float = setting(
        5.0,
        help="Seconds between a monitor's writes (and heartbeats). The server exports its "
        "value to the kernels it starts.",
    )
    heartbeat_staleness: float = setting(
        30.0,
        parts=SERVER_ONLY,
        derive=lambda s: max(30.0, 3 * s.flush_interval),
        default_doc="3 × `flush_interval`, at least 30",
        help="Seconds without a heartbeat after which the server marks a running run crashed.",
    )
    reaper_interval: float = setting(
        15.0,
        parts=SERVER_ONLY,
        help="Seconds between two sweeps of the server's heartbeat reaper (0 turns it off).",
    )
    long_job_threads: int = setting(
        2,
        parts=SERVER_ONLY,
        clean=_at_least_one,
        help="Threads for the server's long requests: exports, storage connector checks, "
        "artifact uploads and downloads, deletions that purge files. They never take the "
        "threads short requests run on; past 8 waiting per thread the server answers 503 "
        "with Retry-After.",
    )
    api_key_cache_seconds: float = setting(
        30.0,
        parts=SERVER_ONLY,
        clean=_not_negative,
        help="Seconds a server process remembers which account an API key belongs to, "
        "sparing a database read per request (0: look every key up). A key revoked or an "
        "account deleted stops working at once in the process that did it; on PostgreSQL "
        "also in every other server process, which hears of it as it commits; on SQLite, "
        "or with db_nullpool, within this many seconds in the others.",
    )
    kernel_writes_in_flight: int = setting(
        64,
        parts=SERVER_ONLY,
        clean=_at_least_one,
        help="Recording kernels' metric writes one server process works on at once. Past "
        "that a write answers 503 with Retry-After: the kernel keeps its batch and sends it "
        "with its next flush, and the refusal counts as its heartbeat, so its run is not "
        "reaped. Raise it with more database connections and cores; lower it when writes "
        "queue for seconds.",
    )
    disk_paths: tuple[str, ...] = setting(
        ("/",),
        parts=MONITORS,
        separator=os.pathsep,
        help="Mount points whose usage a monitor samples.",
    )
    openmetrics_endpoints: dict[str, str] = setting(
        factory=dict,
        parts=MONITORS,
        help="OpenMetrics endpoints a monitor scrapes, name to URL.",
    )
    openmetrics_filters: tuple[str, ...] = setting(
        (".*",),
        parts=MONITORS,
        separator="json",
        help="Regular expressions of the scraped metric names to keep.",
    )
    idle_alert_minutes: float = setting(
        30.0,
        parts=MONITORS,
        help="Minutes a monitored notebook kernel may hold resources with no cell running "
        "before it raises an `idle` alert (F-SM-13); 0 turns the alert off.",
    )
    idle_gpu_memory_bytes: float = setting(
        2**30,
        parts=MONITORS,
        help="GPU memory (bytes) the kernel's processes must hold, at GPU utilization "
        "below `idle_gpu_util_percent`, to count as holding the GPU while idle.",
    )
    idle_gpu_util_percent: float = setting(
        5.0,
        parts=MONITORS,
        help="GPU utilization (percent) below which held GPU memory counts as idle.",
    )
    idle_cpu_percent: float = setting(
        1.0,
        parts=MONITORS,
        help="The monitored process's CPU use (percent) below which it counts as idle.",
    )
    api_key: str = setting(
        "",
        parts=MONITORS,
        secret=True,
        help="An API key that kernels and `labdeck monitor` act with (a service account's, "
        "say); unset, they act as the server's owner.",
    )
    attribute_to_user: str = setting(
        "",
        parts=MONITORS,
        env="LABDECK_USERNAME",
        help="A service account's runs are credited to this team member (a user name).",
    )
    attribute_to_email: str = setting(
        "",
        parts=MONITORS,
        env="LABDECK_USER_EMAIL",
        help="Like `attribute_to_user`, by a verified email (when no user name is given).",
    )
    service_url: str = setting(
        "",
        help="Base URL of the team's labdeck service (a JupyterHub service, e.g. "
        "`http://127.0.0.1:8000/services/labdeck/`). Set: this server, its kernels and "
        "the CLI are clients of that service over REST and open no database (see "
        "docs/hub.md). Empty: the embedded database. The server exports it to the kernels "
        "it starts.",
    )


# -- the declarations, read off the dataclass ------------------------------------------------


class Kind(enum.Enum):
    """How a setting's type is written in the environment and in the docs."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    SWITCH = "true/false"
    SECONDS = "seconds"
    NAMES = "names"
    LIST = "list"
    MAPPING = "JSON object"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _kind(annotation: Any) -> Kind:
    simple = {str: Kind.TEXT, int: Kind.INTEGER, float: Kind.NUMBER, bool: Kind.SWITCH}
    if annotation in simple:
        return simple[annotation]
    if annotation is dt.timedelta:
        return Kind.SECONDS
    origin = typing.get_origin(annotation)
    if origin is frozenset:
        return Kind.NAMES
    if origin is tuple:
        return Kind.LIST
    if origin is dict:
        return Kind.MAPPING
    raise TypeError(f"no setting kind for {annotation!r}")


@dataclass(frozen=True)
class Spec:
    """One setting: its field, its kind and its declaration."""

    name: str
    kind: Kind
    declaration: Declaration
    _field: dataclasses.Field[Any]

    @property
    def env(self) -> str:
        return self.declaration.env or ENV_PREFIX + self.name.upper()

    @property
    def parts(self) -> frozenset[Part]:
        return self.declaration.parts

    @property
    def help(self) -> str:
        return self.declaration.help

    def default(self) -> Any:
        if self._field.default_factory is not dataclasses.MISSING:
            return self._field.default_factory()
        return self._field.default

    def parse(self, text: str, where: str) -> Any:
        """A value as written in an environment variable."""
        kind = self.kind
        try:
            if kind is Kind.TEXT:
                value: Any = text
            elif kind is Kind.INTEGER:
                value = int(text)
            elif kind in (Kind.NUMBER, Kind.SECONDS):
                value = float(text)
            elif kind is Kind.SWITCH:
                if text.strip().lower() not in _TRUE + _FALSE:
                    raise ValueError(f"not one of {', '.join(_TRUE + _FALSE)}")
                value = text.strip().lower() in _TRUE
            elif kind is Kind.MAPPING or self.declaration.separator == "json":
                value = json.loads(text)
            else:
                value = [part.strip() for part in text.split(self.declaration.separator)]
                value = [part for part in value if part]
        except ValueError as exc:
            raise SettingError(f"{where}: {text!r} is not a valid {kind.value} ({exc})") from None
        return self.coerce(value, where)

    def coerce(self, value: Any, where: str) -> Any:
        """A value of the setting's type from a parsed or configured one."""
        kind = self.kind
        wrong = SettingError(f"{where}: {value!r} is not a valid {kind.value}")
        if kind is Kind.TEXT and not isinstance(value, str):
            raise wrong
        if kind is Kind.SWITCH and not isinstance(value, bool):
            raise wrong
        if kind is Kind.INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise wrong
        if kind in (Kind.NUMBER, Kind.SECONDS):
            if isinstance(value, dt.timedelta) and kind is Kind.SECONDS:
                value = value.total_seconds()
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise wrong
            value = float(value) if kind is Kind.NUMBER else dt.timedelta(seconds=value)
        if kind in (Kind.NAMES, Kind.LIST):
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise wrong
            items = list(value)
            if not all(isinstance(item, str) for item in items):
                raise wrong
            value = frozenset(items) if kind is Kind.NAMES else tuple(items)
        if kind is Kind.MAPPING:
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise wrong
            value = dict(value)
        choices = self.declaration.choices
        if choices and value not in choices:
            raise SettingError(f"{where}: {value!r} is not one of {', '.join(choices)}")
        clean = self.declaration.clean
        if clean is None:
            return value
        try:
            return clean(value)
        except ValueError as exc:
            raise SettingError(f"{where}: {exc}") from None

    def render(self, value: Any) -> str:
        """A value written as its environment variable would hold it."""
        kind = self.kind
        if kind is Kind.SWITCH:
            return "true" if value else "false"
        if kind is Kind.SECONDS:
            return repr(value.total_seconds())
        if kind is Kind.NUMBER:
            return repr(value)
        if kind is Kind.MAPPING or self.declaration.separator == "json":
            return json.dumps(list(value) if kind is Kind.LIST else value)
        if kind in (Kind.NAMES, Kind.LIST):
            items = sorted(value) if kind is Kind.NAMES else list(value)
            return self.declaration.separator.join(items)
        return str(value)

    def show(self, value: Any) -> str:
        """`render`, with secrets and passwords in URLs masked."""
        text = self.render(value)
        if self.declaration.secret:
            return "********" if text else ""
        return _hide_password(text)


def _hide_password(text: str) -> str:
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not password:
        return text
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _specs() -> dict[str, Spec]:
    hints = typing.get_type_hints(Settings)
    return {
        f.name: Spec(f.name, _kind(hints[f.name]), f.metadata["labdeck"], f)
        for f in dataclasses.fields(Settings)
    }


SPECS: dict[str, Spec] = _specs()


# -- the one reader --------------------------------------------------------------------------


def from_env_or_default(spec: Spec, environ: Mapping[str, str]) -> tuple[Any, Origin]:
    """A setting not configured anywhere else: its environment variable (or a
    deprecated one, with a warning), else its default. Derived defaults are
    `read()`'s business, which knows the other settings."""
    for name in (spec.env, *spec.declaration.deprecated_env):
        text = environ.get(name, "")
        if not text:
            continue
        if name != spec.env:
            warnings.warn(
                f"{name} is deprecated: set {spec.env} instead", FutureWarning, stacklevel=2
            )
            return spec.parse(text, name), Origin(Source.ENVIRONMENT, f"{name} (deprecated)")
        return spec.parse(text, name), Origin(Source.ENVIRONMENT, name)
    return spec.default(), Origin(Source.DEFAULT)


@dataclass(frozen=True)
class Effective:
    """The settings a process runs with, and where each value came from."""

    settings: Settings
    origins: dict[str, Origin]


def read(
    given: Mapping[str, Given] | None = None, environ: Mapping[str, str] | None = None
) -> Effective:
    """Every setting: from `given` (config files, command line) where set,
    else from the environment, else the default (derived ones from the
    others)."""
    given = given or {}
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for name, spec in SPECS.items():
        if name in given:
            origin = given[name].origin
            values[name], origins[name] = spec.coerce(given[name].value, str(origin)), origin
        else:
            values[name], origins[name] = from_env_or_default(spec, environ)
    settings = Settings(**values)
    for name, spec in SPECS.items():
        derive = spec.declaration.derive
        if derive is not None and origins[name].source is Source.DEFAULT:
            setattr(settings, name, derive(settings))
    return Effective(settings, origins)


def from_environment() -> Settings:
    """What a kernel (and any process but the server and the CLI) runs with:
    no config file is read there; the server exports what its kernels need."""
    return read().settings


# -- Jupyter config files, as the server reads them ------------------------------------------

# In the order the server applies them: jupyter_config, then the extension's
# own file, then jupyter_server_config (whose values win).
CONFIG_FILE_NAMES = ("jupyter_config", "jupyter_labdeck_config", "jupyter_server_config")
SECTION = "LabdeckApp"


def from_config_files(
    paths: list[str] | None = None, on_error: Callable[[str, Exception], None] | None = None
) -> dict[str, Given]:
    """The `c.LabdeckApp.<name>` values of the Jupyter config files (`.py`
    and `.json` in each Jupyter config directory), with the file each came
    from. A file that fails to load is reported to `on_error` and skipped,
    as the server does."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import (
        ConfigFileNotFound,
        JSONFileConfigLoader,
        PyFileConfigLoader,
    )

    found: dict[str, Given] = {}
    directories = jupyter_config_path() if paths is None else paths
    for base in CONFIG_FILE_NAMES:
        # The first directory has the highest priority: read it last.
        for directory in reversed(directories):
            for loader_class, suffix in (
                (PyFileConfigLoader, ".py"),
                (JSONFileConfigLoader, ".json"),
            ):
                loader = loader_class(base + suffix, path=directory)
                try:
                    loaded = loader.load_config()
                except ConfigFileNotFound:
                    continue
                except Exception as exc:
                    if on_error is not None:
                        on_error(loader.full_filename or base + suffix, exc)
                    continue
                section = loaded.get(SECTION, {})
                for name, value in section.items():
                    if name in SPECS:
                        origin = Origin(Source.CONFIG_FILE, loader.full_filename)
                        found[name] = Given(value, origin)
    return found
