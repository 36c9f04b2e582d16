"""The metric catalogue of `spec/metrics.csv` as code: every key pattern with
its unit, and the chart panel (group) it belongs to.

The sampler's collectors produce the keys; charts (live and stored) use
this to put each series on a panel whose axis names its unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_GPU_METRICS = {
    "memory": "percent",
    "memoryAllocated": "percent",
    "memoryAllocatedBytes": "bytes",
    "gpu": "percent",
    "temp": "celsius",
    "powerWatts": "W",
    "powerPercent": "percent",
    "smClock": "MHz",
    "memoryClock": "MHz",
    "graphicsClock": "MHz",
    "correctedMemoryErrors": "count",
    "unCorrectedMemoryErrors": "count",
    "encoderUtilization": "percent",
    "processMemoryBytes": "bytes",
}

# (pattern, unit); first match wins.
_RULES: tuple[tuple[str, str], ...] = (
    (r"cpu", "percent"),
    (r"cpu\.\d+\.cpu_percent", "percent"),
    (r"proc\.cpu\.threads", "count"),
    (r"disk\..+\.usagePercent", "percent"),
    (r"disk\..+\.usageGB", "GB"),
    (r"disk\.(in|out)", "MB"),
    (r"proc\.memory\.rssMB", "MB"),
    (r"proc\.memory\.pssMB", "MB"),
    (r"proc\.memory\.percent", "percent"),
    (r"memory", "percent"),
    (r"proc\.memory\.availableMB", "MB"),
    (r"network\.(sent|recv)", "bytes"),
    (r"tpu\.\d+\.memoryUsageBytes", "bytes"),
    (r"tpu\.\d+\.(memoryUsage|dutyCycle)", "percent"),
    (r"trn\.\d+\.neuroncore_utilization", "percent"),
    (r"trn\..*memory.*", "bytes"),
)
_COMPILED = tuple((re.compile(p + r"\Z"), unit) for p, unit in _RULES)
_GPU = re.compile(r"gpu\.(process\.)?(\d+)\.(\w+)\Z")


@dataclass(frozen=True)
class MetricInfo:
    group: str
    unit: str

    @property
    def panel(self) -> str:
        """A chart panel: one group, one unit, so an axis never mixes units."""
        return f"{self.group} ({self.unit})" if self.unit else self.group


@lru_cache(maxsize=4096)
def describe(key: str) -> MetricInfo:
    gpu = _GPU.match(key)
    if gpu:
        label = f"GPU {gpu.group(2)}" + (" process" if gpu.group(1) else "")
        return MetricInfo(label, _GPU_METRICS.get(gpu.group(3), ""))
    unit = next((u for pattern, u in _COMPILED if pattern.match(key)), "")
    head = key.split(".", 1)[0]
    if key == "cpu" or head == "cpu" or key.startswith("proc.cpu"):
        group = "CPU"
    elif key == "memory" or key.startswith("proc.memory"):
        group = "Memory"
    elif head == "disk":
        group = "Disk"
    elif head == "network":
        group = "Network"
    elif head in ("tpu", "trn", "ipu"):
        group = "Accelerators"
    elif head == "openmetrics":
        group = "OpenMetrics"
    else:
        group = "Other"
    return MetricInfo(group, unit)
