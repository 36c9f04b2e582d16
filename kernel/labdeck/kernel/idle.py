"""The idle-resource alert (F-SM-13): a notebook kernel that holds a GPU's
memory, or sits at ~0 % CPU, while no cell runs, for `idle_alert_minutes`.

`IdleWatch` is one more sink of the monitor's samples, and listens to
IPython's `pre_run_cell`/`post_run_cell` (the same events as the cell
markers) to know whether a cell is executing. Idle means: no cell executing,
and either the kernel's processes hold at least `idle_gpu_memory_bytes` of
GPU memory (`gpu.process.{i}.processMemoryBytes`, else the device's
`gpu.process.{i}.memoryAllocatedBytes`) with utilization below
`idle_gpu_util_percent`, or the monitored process tree's CPU (`cpu`) is
below `idle_cpu_percent`. The time counted is the samples' own. One alert
per idle spell: a cell that runs, or a sample that is not idle, starts over.

The alert is written from a thread of its own, never the sampler's, so a
slow database never delays a sample.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labdeck.backend.config import Settings

log = logging.getLogger("labdeck")

_HELD = re.compile(r"gpu\.process\.(\d+)\.processMemoryBytes")
_ALLOCATED = re.compile(r"gpu\.process\.(\d+)\.memoryAllocatedBytes")
_UTIL = re.compile(r"gpu\.process\.(\d+)\.gpu")


@dataclass(frozen=True)
class IdleThresholds:
    minutes: float
    gpu_memory_bytes: float
    gpu_util_percent: float
    cpu_percent: float

    @classmethod
    def of(cls, settings: Settings) -> IdleThresholds:
        return cls(
            settings.idle_alert_minutes,
            settings.idle_gpu_memory_bytes,
            settings.idle_gpu_util_percent,
            settings.idle_cpu_percent,
        )


@dataclass(frozen=True)
class Holding:
    """What one sample says the kernel holds, and whether that is idle."""

    gpu_memory_bytes: float
    gpu_util_percent: float | None
    cpu_percent: float | None
    idle: bool


def holding(values: Mapping[str, float], limits: IdleThresholds) -> Holding:
    held: dict[str, float] = {}
    allocated: dict[str, float] = {}
    utils: list[float] = []
    for key, value in values.items():
        if not key.startswith("gpu.process."):
            continue
        if m := _HELD.fullmatch(key):
            held[m.group(1)] = value
        elif m := _ALLOCATED.fullmatch(key):
            allocated[m.group(1)] = value
        elif _UTIL.fullmatch(key):
            utils.append(value)
    memory = sum({**allocated, **held}.values())
    util = max(utils) if utils else None
    gpu_idle = (
        memory > 0
        and memory >= limits.gpu_memory_bytes
        and (util is None or util < limits.gpu_util_percent)
    )
    cpu = values.get("cpu")
    cpu_idle = cpu is not None and cpu < limits.cpu_percent
    return Holding(memory, util, cpu, gpu_idle or cpu_idle)


def notebook_of_kernel() -> str:
    """The notebook this kernel runs for: Jupyter server tells its kernels
    their session's path (`JPY_SESSION_NAME`)."""
    return os.environ.get("JPY_SESSION_NAME", "")


class IdleWatch:
    def __init__(
        self,
        monitor: Any,
        limits: IdleThresholds,
        *,
        notebook: str = "",
        kernel_id: str = "",
    ) -> None:
        self.monitor = monitor
        self.limits = limits
        self.notebook = notebook
        self.kernel_id = kernel_id
        self.busy = False
        self.since: float | None = None
        self.alerted = False
        self.alerts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._shell: Any = None

    # -- cells ----------------------------------------------------------------------------

    def pre_run_cell(self, _info: Any = None) -> None:
        with self._lock:
            self.busy, self.since, self.alerted = True, None, False

    def post_run_cell(self, _result: Any = None) -> None:
        with self._lock:
            self.busy, self.since, self.alerted = False, None, False

    def register(self, shell: Any) -> None:
        self._shell = shell
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        if self._shell is None:
            return
        for event, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self._shell.events.unregister(event, callback)
            except ValueError:
                pass
        self._shell = None

    # -- samples --------------------------------------------------------------------------

    def __call__(self, t: float, values: dict[str, float]) -> None:
        now = holding(values, self.limits)
        with self._lock:
            if self.busy or not now.idle:
                self.since, self.alerted = None, False
                return
            if self.since is None:
                self.since = t
            idle_s = t - self.since
            if self.alerted or idle_s < self.limits.minutes * 60:
                return
            self.alerted = True
        threading.Thread(
            target=self._raise, args=(now, idle_s), name="labdeck-idle-alert", daemon=True
        ).start()

    def _raise(self, now: Holding, idle_s: float) -> None:
        try:
            answer = self.monitor.client.raise_idle_alert(
                self.monitor.run_id,
                idle_s=idle_s,
                notebook=self.notebook,
                kernel_id=self.kernel_id,
                gpu_memory_bytes=now.gpu_memory_bytes,
                gpu_util_percent=now.gpu_util_percent,
                cpu_percent=now.cpu_percent,
            )
            self.alerts.append(answer)
        except Exception as exc:
            log.warning("labdeck: could not raise the idle alert: %s", exc)


def attach(monitor: Any, kernel_id: str | None) -> IdleWatch | None:
    """Watch a monitor started in an IPython kernel (a notebook's), where
    cells exist; a script's monitor has no idle time to speak of."""
    limits = IdleThresholds.of(monitor.settings)
    if limits.minutes <= 0:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "events"):
        return None
    watch = IdleWatch(monitor, limits, notebook=notebook_of_kernel(), kernel_id=kernel_id or "")
    watch.register(shell)
    monitor.add_sink(watch)
    monitor.add_stop_hook(watch.unregister)
    monitor.idle_watch = watch
    return watch
