"""A monitor session: resolve user and project, create the run, sample into
the recorder (and any other sink), end the run `finished` or `crashed`.

`labdeck.monitor()`, the `%labdeck` magic and `labdeck monitor -- CMD` are
all thin wrappers around `Monitor`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict
from labdeck.backend.services import betas, identity, metrics, projects, runs

from .collectors import available_collectors
from .collectors.base import SamplerConfig
from .identity import attribution
from .recorder import Recorder
from .sampler import Sampler
from .settings import KernelSettings

log = logging.getLogger("labdeck")

DEFAULT_PROJECT = "uncategorized"
Sink = Callable[[float, dict[str, float]], None]
MarkerSink = Callable[[dict[str, Any]], None]

_running: list[Monitor] = []


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
        run = runs.get_run(self._monitor.backend, self._monitor.actor, self.id)
        return str(run["state"])

    def history(self, keys: list[str] | None = None) -> dict[str, Any]:
        """Everything recorded so far, in the shape of the REST metrics read."""
        self._monitor.flush()
        return metrics.read_series(self._monitor.backend, self._monitor.actor, self.id, keys=keys)

    def __repr__(self) -> str:
        return f"<labdeck run {self.id} in {self.project}>"


class Monitor:
    def __init__(
        self,
        project: str | None = None,
        *,
        interval: float | None = None,
        disk: list[str] | None = None,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        pid: int | None = None,
        backend: Backend | None = None,
        settings: KernelSettings | None = None,
    ) -> None:
        self.settings = settings or KernelSettings.from_env()
        self.interval = float(interval if interval is not None else self.settings.interval)
        self.sampler_config = SamplerConfig(
            interval=self.interval,
            disk_paths=list(disk) if disk else list(self.settings.disk_paths),
            openmetrics_endpoints=self.settings.openmetrics_endpoints,
            openmetrics_filters=self.settings.openmetrics_filters,
            pid=pid if pid is not None else os.getpid(),
        )
        self.project_spec = project
        self.name = name
        self.config = dict(config or {})
        self.backend = backend or Backend.open()
        self.actor: Actor = identity.process_actor(self.backend)
        self.entity = ""
        self.project_name = ""
        self.run_id = ""
        self.sampler: Sampler | None = None
        self.recorder: Recorder | None = None
        self.run: RunHandle | None = None
        self._extra_sinks: list[Sink] = []
        self._marker_sinks: list[MarkerSink] = []
        self._stop_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.state = "new"

    def add_sink(self, sink: Sink) -> None:
        """Another consumer of samples (the live chart); plain callables only."""
        self._extra_sinks.append(sink)
        if self.sampler is not None:
            self.sampler.add_sink(sink)

    def add_marker_sink(self, sink: MarkerSink) -> None:
        """Told of each cell's start (`end_t` None) and end, to draw its band."""
        self._marker_sinks.append(sink)

    def add_stop_hook(self, hook: Callable[[], None]) -> None:
        """Called once sampling stopped (a live chart draws its last points)."""
        self._stop_hooks.append(hook)

    def window(self, start: float, end: float, max_points: int) -> dict[str, Any]:
        """Recorded series between `start` and `end` (unix seconds), at most
        `max_points` a series: what a zoomed chart asks for."""
        self.flush()
        return metrics.read_series(
            self.backend, self.actor, self.run_id, start=start, end=end, max_points=max_points
        )

    def publish_marker(self, marker: dict[str, Any]) -> None:
        for sink in list(self._marker_sinks):
            try:
                sink(marker)
            except Exception as exc:
                log.warning("labdeck: a marker view failed and is dropped: %s", exc)
                self._marker_sinks.remove(sink)

    def _create_run(self, system: dict[str, Any]) -> dict[str, Any]:
        project = projects.ensure_project(
            self.backend, self.actor, self.project_spec or DEFAULT_PROJECT
        )
        self.entity, self.project_name = project["entity"], project["name"]
        return runs.create_run(
            self.backend,
            self.actor,
            self.entity,
            self.project_name,
            name=self.name,
            config=self.config,
            attribute_to=attribution(),
            system=system,
        )

    def start(self) -> RunHandle:
        with self._lock:
            if self.state != "new":
                raise RuntimeError("this monitor was already started")
            # Beta features (F-US-3) switch on costlier or noisier collection.
            flags = betas.enabled_features(self.backend, self.actor)
            self.sampler_config.pss = "proc_memory_pss" in flags
            self.sampler_config.openmetrics_histograms = "openmetrics_histograms" in flags
            sampler = Sampler(available_collectors(self.sampler_config), self.sampler_config)
            system = {
                "interval": self.interval,
                "collectors": sampler.status().get("active", []),
                "skipped": sampler.skipped,
                **sampler.info(),
            }
            run = self._create_run(system)
            self.run_id = run["id"]
            self.recorder = Recorder(
                self.backend, self.actor, self.run_id, self.settings.flush_interval
            )
            sampler.add_sink(self.recorder)
            for sink in self._extra_sinks:
                sampler.add_sink(sink)
            self.sampler = sampler
            self.recorder.start()
            self.started_at = time.time()
            sampler.start()
            self.state = "running"
            self.run = RunHandle(self)
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

    def stop(self, state: str = "finished") -> None:
        """Stop sampling, write what is buffered, and end the run once."""
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
            runs.end_run(self.backend, self.actor, self.run_id, state)
        except Conflict:
            # Ended elsewhere (stopped from the panel, or reaped): it keeps that state.
            pass

    def _at_exit(self) -> None:
        self.stop("finished")

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {"state": self.state, "run_id": self.run_id or None}
        if self.sampler is not None:
            info.update(self.sampler.status())
        if self.recorder is not None:
            info["samples_written"] = self.recorder.samples_written
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
        self.stop("crashed" if crashed else "finished")
