"""The contract every hardware source meets, and the sampler's configuration.

A collector is probed once: a missing library, device or tool is an ordinary
answer (`Probe(present=False, reason=...)`), never an exception, so that a
machine without a GPU starts a monitor as quietly as one with eight. Only a
failure *while sampling* is a fault, and the sampler reports that once.
"""

from __future__ import annotations

import abc
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

MIN_INTERVAL = 0.1
"""Finest sampling interval in seconds (F-SM-1)."""

MIN_SLOW_INTERVAL = 1.0
"""Slow collectors (process lists, subprocess tools, HTTP scrapes) never run more often."""

DEFAULT_SLOW_INTERVAL = 5.0


@dataclass(frozen=True)
class Probe:
    """Whether a collector can sample here, and if not, a reason a user can act on."""

    present: bool
    reason: str = ""


@dataclass
class SamplerConfig:
    """What to sample and how often.

    `openmetrics_filters` are regular expressions searched in each series
    name (`re.search`; anchor with `^...$` for an exact name; an empty list
    keeps every series). `slow_interval`
    is the cadence of slow collectors; left as None it follows `interval`,
    bounded below by `MIN_SLOW_INTERVAL` and above by `DEFAULT_SLOW_INTERVAL`
    so that a 0.1 s monitor does not list NVML processes ten times a second.
    `enabled` names the collectors to build (None: all of them).
    `since`: see the field.
    """

    interval: float = 10.0
    disk_paths: list[str] = field(default_factory=lambda: ["/"])
    pid: int = field(default_factory=os.getpid)
    openmetrics_endpoints: dict[str, str] = field(default_factory=dict)
    openmetrics_filters: list[str] = field(default_factory=lambda: [".*"])
    slow_interval: float | None = None
    enabled: set[str] | None = None
    pss: bool = False
    openmetrics_histograms: bool = False
    since: float | None = None
    """Unix time from which the tree's CPU counts: a process started since
    counts from its start, the root included (`labdeck monitor`'s command
    counts whole); None: from the monitor's start."""

    def __post_init__(self) -> None:
        if not self.interval >= MIN_INTERVAL:
            raise ValueError(f"interval must be at least {MIN_INTERVAL} s, got {self.interval!r}")
        if self.slow_interval is not None and not self.slow_interval >= MIN_INTERVAL:
            raise ValueError(
                f"slow_interval must be at least {MIN_INTERVAL} s, got {self.slow_interval!r}"
            )
        if self.pid <= 0:
            raise ValueError(f"pid must be positive, got {self.pid!r}")
        for pattern in self.openmetrics_filters:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid OpenMetrics filter {pattern!r}: {exc}") from exc
        for name, url in self.openmetrics_endpoints.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"OpenMetrics endpoint {name!r} needs an http(s) URL, got {url!r}")

    @property
    def effective_slow_interval(self) -> float:
        if self.slow_interval is not None:
            return self.slow_interval
        return min(max(self.interval, MIN_SLOW_INTERVAL), DEFAULT_SLOW_INTERVAL)


class Collector(abc.ABC):
    """One source of metrics.

    `slow` collectors run on a worker thread of their own at
    `SamplerConfig.effective_slow_interval`; their values join the next fast
    sample, so a subprocess or an HTTP timeout never delays the others.
    """

    name: str = ""
    slow: bool = False

    @abc.abstractmethod
    def probe(self) -> Probe:
        """Acquire what sampling needs; must not raise."""

    @abc.abstractmethod
    def sample(self) -> dict[str, float]:
        """Read the current values; raising here disables the collector."""

    def info(self) -> dict[str, object]:
        """Facts recorded with the run once (limits used, device names and ids)."""
        return {}

    def problems(self) -> dict[str, str]:
        """What fails now while the rest goes on (an endpoint, a lost GPU), what -> why.

        Shown by `%labdeck status`; called from any thread, so it returns a copy.
        """
        return {}

    def close(self) -> None:
        """Release what `probe` acquired; safe to call more than once."""
        return None


def process_tree(pid: int) -> set[int]:
    """Pids of `pid` and its descendants, for slow collectors that attribute devices.

    Costs a scan of every process on the host (milliseconds), which is why
    only slow collectors call it; the host collector keeps its own cheaper,
    incremental view.
    """
    try:
        root = psutil.Process(pid)
        return {pid, *(child.pid for child in root.children(recursive=True))}
    except psutil.Error:
        return set()


def run_tool(argv: Sequence[str], timeout: float = 10.0) -> bytes:
    """Run an external tool and return its stdout; a failure raises with its stderr."""
    done = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-400:]
        raise RuntimeError(f"{argv[0]} exited with status {done.returncode}: {tail}")
    return done.stdout


def which(tool: str) -> str | None:
    """Where a tool is on PATH (a seam that tests replace)."""
    return shutil.which(tool)


def as_number(value: object) -> float | None:
    """A tool's reading as a float, or None for "N/A", empty and other non-numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return float(text.strip())
        except ValueError:
            return None
    return None
