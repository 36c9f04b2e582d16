"""Apple Silicon GPU through macOS's own tools.

`ioreg -a` (no privileges needed) publishes the GPU's `PerformanceStatistics`:
"Device Utilization %" and "In use system memory", which on unified memory
is the GPU's share of RAM. `powermetrics -f plist` adds power, but only as
root, so it is used only when the kernel runs as root. Neither tool reports
a GPU temperature or a power cap on Apple Silicon (those sit behind private
SMC / IOReport interfaces), so `gpu.0.temp` and `gpu.0.powerPercent` are
not produced here rather than made up.
"""

from __future__ import annotations

import os
import platform
import plistlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import psutil

from .base import Collector, Probe, as_number, run_tool, which

IOREG = ("ioreg", "-r", "-d", "1", "-w", "0", "-c", "IOAccelerator", "-a")
POWERMETRICS = (
    "powermetrics",
    "--samplers",
    "cpu_power,gpu_power",
    "-i",
    "1000",
    "-n",
    "1",
    "-f",
    "plist",
)


def parse_ioreg(data: bytes, memory_total: int) -> dict[str, float]:
    """`gpu.0.gpu` and `gpu.0.memoryAllocated` from `ioreg -c IOAccelerator -a`."""
    entries = plistlib.loads(data)
    for entry in entries if isinstance(entries, list) else [entries]:
        stats = entry.get("PerformanceStatistics") if isinstance(entry, dict) else None
        if not isinstance(stats, dict):
            continue
        values: dict[str, float] = {}
        busy = as_number(stats.get("Device Utilization %"))
        if busy is not None:
            values["gpu.0.gpu"] = busy
        in_use = as_number(stats.get("In use system memory"))
        if in_use is not None and memory_total > 0:
            values["gpu.0.memoryAllocated"] = in_use / memory_total * 100.0
        return values
    return {}


def parse_powermetrics(data: bytes) -> dict[str, float]:
    """`gpu.0.powerWatts` (and busy share when ioreg had none) from one plist sample."""
    document: dict[str, Any] = plistlib.loads(data.strip(b"\0\n "))
    processor = document.get("processor") or {}
    gpu = document.get("gpu") or {}
    values: dict[str, float] = {}
    milliwatts = as_number(processor.get("gpu_power"))
    if milliwatts is None:
        energy = as_number(processor.get("gpu_energy") or gpu.get("gpu_energy"))
        elapsed = as_number(document.get("elapsed_ns"))
        if energy is not None and elapsed:
            milliwatts = energy / (elapsed / 1e9)
    if milliwatts is not None:
        values["gpu.0.powerWatts"] = milliwatts / 1000.0
    idle = as_number(gpu.get("idle_ratio"))
    if idle is not None:
        values["gpu.0.gpu"] = (1.0 - idle) * 100.0
    return values


class AppleCollector(Collector):
    """The integrated GPU of an Apple Silicon Mac, as `gpu.0.*`."""

    name = "apple"
    slow = True

    def __init__(
        self,
        run: Callable[[Sequence[str]], bytes] = run_tool,
        powermetrics: bool | None = None,
        memory_total: int | None = None,
    ) -> None:
        self._run = run
        self._powermetrics = powermetrics
        self._memory_total = memory_total

    def probe(self) -> Probe:
        if sys.platform != "darwin" or platform.machine() != "arm64":
            return Probe(False, "not an Apple Silicon Mac")
        if which(IOREG[0]) is None:
            return Probe(False, "ioreg not found")
        if self._powermetrics is None:
            self._powermetrics = os.geteuid() == 0 and which(POWERMETRICS[0]) is not None
        return Probe(True)

    def sample(self) -> dict[str, float]:
        if self._memory_total is None:
            self._memory_total = int(psutil.virtual_memory().total)
        values: dict[str, float] = {}
        if self._powermetrics:
            values.update(parse_powermetrics(self._run(POWERMETRICS)))
        values.update(parse_ioreg(self._run(IOREG), self._memory_total))
        return values

    def info(self) -> dict[str, object]:
        return {
            "sources": ["ioreg", "powermetrics"] if self._powermetrics else ["ioreg"],
            "not_available": ["gpu.0.temp", "gpu.0.powerPercent"],
        }
