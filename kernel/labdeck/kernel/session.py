"""A monitor session: resolve user and project, create the run, sample into
the recorder (and any other sink), end the run `finished` or `crashed`.

Everything it asks of labdeck goes through the process's client
(`labdeck.client.mode`): the database in this process, or the team's
service over REST; the session cannot tell which.

`labdeck.monitor()`, the `%labdeck` magic and `labdeck monitor -- CMD` are
all thin wrappers around `Monitor`.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from traitlets.config.configurable import MultipleInstanceError

from labdeck.backend.config import Settings, from_environment
from labdeck.backend.errors import Conflict, RetryLater
from labdeck.client import mode
from labdeck.client.base import Client

from . import idle
from .collectors import available_collectors
from .collectors.base import SamplerConfig
from .recorder import Recorder
from .sampler import Sampler

if TYPE_CHECKING:
    from labdeck.backend.context import Backend

log = logging.getLogger("labdeck")

DEFAULT_PROJECT = "uncategorized"
# The run's `system` key that names the Jupyter kernel recording it
# (`services.kernel_runs.KERNEL_ID_KEY`, not imported: that is the database layer).
KERNEL_ID_KEY = "jupyter_kernel_id"
# Where the run's config keeps labdeck's own keys (`services.runs.RESERVED_CONFIG_KEY`).
RESERVED_CONFIG_KEY = "_labdeck"
Sink = Callable[[float, dict[str, float]], None]
MarkerSink = Callable[[dict[str, Any]], None]
CellSink = Callable[[dict[str, Any]], None]

_running: list[Monitor] = []


def _kernel_app() -> Any:
    """This process's running ipykernel application, or None. A process that
    has not imported ipykernel is no kernel: a script or `labdeck monitor`
    does not pay for importing it (a second) to learn that."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None:
        return None
    try:
        IPKernelApp = kernelapp.IPKernelApp
        return IPKernelApp.instance() if IPKernelApp.initialized() else None
    except MultipleInstanceError:
        # Another application (a Jupyter server running monitors in-process)
        # is the process's singleton: this is no kernel.
        return None


def in_a_kernel() -> bool:
    """Whether this process is an IPython kernel, whoever launched it (a
    Jupyter server, nbclient, an editor): a kernel's code is its cells."""
    return _kernel_app() is not None


def jupyter_kernel_id() -> str | None:
    """The Jupyter kernel id of this process, when a Jupyter server started
    it (its connection file is `kernel-<id>.json`): recorded with the run so
    that JupyterLab's status bar finds the run of the current notebook's
    kernel."""
    app = _kernel_app()
    if app is None:
        return None
    name = os.path.basename(app.connection_file)
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return None


def parse_endpoints(items: list[str]) -> dict[str, str]:
    """`["vllm=http://127.0.0.1:8000/metrics", ...]` as {name: URL}; a bad item raises."""
    endpoints: dict[str, str] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ValueError(f"an OpenMetrics endpoint is NAME=URL, got {item!r}")
        endpoints[name.strip()] = url.strip()
    return endpoints


def disk_list(disk: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """One path or several: `disk="/tmp"` watches /tmp, not "/", "t", "m", "p"."""
    if disk is None:
        return None
    if isinstance(disk, (str, os.PathLike)):
        return [os.fspath(disk)]
    return [os.fspath(path) for path in disk]


def _publish(
    sinks: list[Callable[[dict[str, Any]], None]], item: dict[str, Any], what: str
) -> None:
    """Hands `item` to every sink; one that fails is reported once and dropped,
    so a broken view never stops the monitor or the other views."""
    for sink in list(sinks):
        try:
            sink(item)
        except Exception as exc:
            log.warning("labdeck: %s failed and is dropped: %s", what, exc)
            sinks.remove(sink)


def current_monitor() -> Monitor | None:
    """The most recently started monitor still running (alerts attach to its run)."""
    return _running[-1] if _running else None


class RunHandle:
    """The run as the user's code sees it."""

    def __init__(self, monitor: Monitor) -> None:
        self._monitor = monitor
        self.id: str = monitor.run_id
        self.project: str = f"{monitor.entity}/{monitor.project_name}"

    @property
    def state(self) -> str:
        return str(self._monitor.client.get_run(self.id)["state"])

    def history(self, keys: list[str] | None = None) -> dict[str, Any]:
        """Everything recorded so far, in the shape of the REST metrics read."""
        self._monitor.flush()
        return self._monitor.client.read_series(self.id, keys=keys)

    def code(self) -> list[dict[str, Any]]:
        """The code this run saved, in order (F-TS-4): empty when code saving is off."""
        return list(self._monitor.client.list_code(self.id)["files"])

    def cells(self) -> list[dict[str, Any]]:
        """The per-cell ledger recorded so far (F-SM-12), one row per cell
        whose figures are in (a cell's row waits for the sample after its end)."""
        return self._monitor.client.list_cells(self.id)

    def __repr__(self) -> str:
        return f"<labdeck run {self.id} in {self.project}>"


class Monitor:
    def __init__(
        self,
        project: str | None = None,
        *,
        interval: float | None = None,
        disk: str | list[str] | None = None,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        openmetrics: dict[str, str] | None = None,
        pid: int | None = None,
        since: float | None = None,
        backend: Backend | None = None,
        settings: Settings | None = None,
        client: Client | None = None,
        save_code: bool | None = None,
    ) -> None:
        # The process's client (`labdeck.client.mode`), unless a caller (the
        # CLI, a benchmark) opened a backend of its own.
        if client is None:
            client = mode.for_backend(backend) if backend is not None else mode.client(settings)
        self.client = client
        # The process's settings (`config.py`): those of its backend unless
        # a caller (a benchmark) gives others.
        self.settings = settings or (
            backend.settings if backend is not None else from_environment()
        )
        self.interval = float(interval if interval is not None else self.settings.sample_interval)
        self.sampler_config = SamplerConfig(
            interval=self.interval,
            disk_paths=disk_list(disk) or list(self.settings.disk_paths),
            # Endpoints given here add to (and by name replace) the configured ones.
            openmetrics_endpoints={**self.settings.openmetrics_endpoints, **(openmetrics or {})},
            openmetrics_filters=list(self.settings.openmetrics_filters),
            pid=pid if pid is not None else os.getpid(),
            since=since,
        )
        self.project_spec = project
        self.name = name
        self.config = dict(config or {})
        # Code saving (F-TS-4): the user's choice for this run, else (None)
        # the team's default; `saves_code` is what the run was created with.
        self.save_code = save_code
        self.saves_code = False
        self.entity = ""
        self.project_name = ""
        self.run_id = ""
        self.sampler: Sampler | None = None
        self.recorder: Recorder | None = None
        self.run: RunHandle | None = None
        self._extra_sinks: list[Sink] = []
        self._marker_sinks: list[MarkerSink] = []
        self._cell_sinks: list[CellSink] = []
        self._stop_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.idle_watch: idle.IdleWatch | None = None
        self.state = "new"

    def add_sink(self, sink: Sink) -> None:
        """Another consumer of samples (the live chart); plain callables only."""
        self._extra_sinks.append(sink)
        if self.sampler is not None:
            self.sampler.add_sink(sink)

    def add_marker_sink(self, sink: MarkerSink) -> None:
        """Told of each cell's start (`end_t` None) and end, to draw its band."""
        self._marker_sinks.append(sink)

    def add_cell_sink(self, sink: CellSink) -> None:
        """Told of each cell's ledger row once reckoned (the live ledger table)."""
        self._cell_sinks.append(sink)

    def publish_cell(self, row: dict[str, Any]) -> None:
        _publish(self._cell_sinks, row, "a ledger view")

    def add_stop_hook(self, hook: Callable[[], None]) -> None:
        """Called once sampling stopped (a live chart draws its last points)."""
        self._stop_hooks.append(hook)

    def window(self, start: float, end: float, max_points: int) -> dict[str, Any]:
        """Recorded series between `start` and `end` (unix seconds), at most
        `max_points` a series: what a zoomed chart asks for."""
        self.flush()
        return self.client.read_series(self.run_id, start=start, end=end, max_points=max_points)

    def publish_marker(self, marker: dict[str, Any]) -> None:
        _publish(self._marker_sinks, marker, "a marker view")

    def _create_run(self, system: dict[str, Any]) -> dict[str, Any]:
        project = self.client.ensure_project(self.project_spec or DEFAULT_PROJECT)
        self.entity, self.project_name = project["entity"], project["name"]
        return self.client.create_run(
            self.entity,
            self.project_name,
            name=self.name,
            config=self.config,
            # A service account's runs are credited to the member named (F-TM-6).
            attribute_to=self.settings.attribute_to_user
            or self.settings.attribute_to_email
            or None,
            system=system,
            save_code=self.save_code,
        )

    def start(self) -> RunHandle:
        with self._lock:
            if self.state != "new":
                raise RuntimeError("this monitor was already started")
            # Beta features (F-US-3) switch on costlier or noisier collection.
            enabled = self.client.beta_features()
            self.sampler_config.pss = "proc_memory_pss" in enabled
            self.sampler_config.openmetrics_histograms = "openmetrics_histograms" in enabled
            sampler = Sampler(available_collectors(self.sampler_config), self.sampler_config)
            system = {
                "interval": self.interval,
                "collectors": sampler.status().get("active", []),
                "skipped": sampler.skipped,
                **sampler.info(),
            }
            kernel_id = jupyter_kernel_id()
            if kernel_id is not None:
                system[KERNEL_ID_KEY] = kernel_id
            run = self._create_run(system)
            self.run_id = run["id"]
            reserved = (run.get("config") or {}).get(RESERVED_CONFIG_KEY) or {}
            self.saves_code = bool(reserved.get("code_saving"))
            self.recorder = Recorder(self.client, self.run_id, self.settings.flush_interval)
            sampler.add_sink(self.recorder)
            for sink in self._extra_sinks:
                sampler.add_sink(sink)
            self.sampler = sampler
            self.recorder.start()
            self.started_at = time.time()
            sampler.start()
            self.state = "running"
            self.run = RunHandle(self)
            self.idle_watch = idle.attach(self, kernel_id)  # F-SM-13, notebooks only
            if self.saves_code and not in_a_kernel() and self.sampler_config.pid == os.getpid():
                # A script monitoring itself (`labdeck.monitor()` outside a
                # notebook): its command line and script are its code (F-TS-4).
                from .command import save_command_code

                save_command_code(self, list(getattr(sys, "orig_argv", sys.argv)))
            _running.append(self)
            atexit.register(self._at_exit)
            return self.run

    def flush(self) -> None:
        """Write buffered samples now (a stopped monitor has written them all)."""
        if self.recorder is not None and self.state == "running":
            self.recorder.flush()

    def pause(self) -> None:
        if self.sampler is not None:
            self.sampler.pause()

    def resume(self) -> None:
        if self.sampler is not None:
            self.sampler.resume()

    def stop(self, state: str = "finished", error: str = "") -> None:
        """Stop sampling, write what is buffered, and end the run once;
        `error` is a crash's last error line, for its alert."""
        with self._lock:
            if self.state != "running":
                return
            self.state = state
        atexit.unregister(self._at_exit)
        if self in _running:
            _running.remove(self)
        assert self.sampler is not None and self.recorder is not None
        self.sampler.stop()
        self.recorder.close()
        for hook in self._stop_hooks:
            try:
                hook()
            except Exception as exc:
                log.warning("labdeck: a stop hook failed: %s", exc)
        try:
            self.client.end_run(
                self.run_id, state, dropped_samples=self.recorder.dropped, error=error
            )
        except Conflict:
            # Ended elsewhere (stopped from the panel, or reaped): it keeps that state.
            pass
        except RetryLater as exc:
            # The service or database is away: without heartbeats the server's
            # reaper ends the run `crashed` at its last sign of life.
            log.warning("labdeck: run %s could not be ended now: %s", self.run_id, exc.message)

    def _at_exit(self) -> None:
        self.stop("finished")

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {"state": self.state, "run_id": self.run_id or None}
        if self.sampler is not None:
            info.update(self.sampler.status())
            if self.state != "running":
                info["problems"] = {}
        if self.recorder is not None:
            info["samples_written"] = self.recorder.samples_written
            info["samples_pending"] = self.recorder.pending
            info["samples_dropped"] = self.recorder.dropped
        if self.run_id:
            info["project"] = f"{self.entity}/{self.project_name}"
        return info

    def __enter__(self) -> RunHandle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        crashed = exc_type is not None and not issubclass(exc_type, (SystemExit, GeneratorExit))
        if isinstance(exc, SystemExit) and exc.code not in (None, 0):
            crashed = True
        error = "".join(traceback.format_exception_only(exc_type, exc)) if crashed else ""
        self.stop("crashed" if crashed else "finished", error)
