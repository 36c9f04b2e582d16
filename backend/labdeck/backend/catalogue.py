"""The metric catalogue: every key the collectors produce, with its unit,
source and meaning (`KEYS`, rendered as docs/metrics.md by `metricdocs`),
and the chart panel (group) each concrete key belongs to (`describe`).

The sampler's collectors produce the keys; charts (live and stored) use
`describe` to put each series on a panel whose axis names its unit. A test
checks that `describe` gives every key of `KEYS` the unit `KEYS` says.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

_GPU_METRICS = {
    "memory": "percent",
    "memoryAllocated": "percent",
    "memoryAllocatedBytes": "bytes",
    "gpu": "percent",
    "temp": "celsius",
    "powerWatts": "W",
    "energyJoules": "J",
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
    (r"proc\.cpu\.seconds", "s"),
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


# Readable names of the GPU metrics ("GPU 0 memory"), in the order that
# gives each its colour slot on a GPU's panels.
_GPU_NAMES = {
    "gpu": "utilization",
    "memoryAllocated": "memory",
    "memoryAllocatedBytes": "memory",
    "memory": "memory activity",
    "powerWatts": "power",
    "powerPercent": "power",
    "energyJoules": "energy",
    "temp": "temperature",
    "smClock": "SM clock",
    "memoryClock": "memory clock",
    "graphicsClock": "graphics clock",
    "encoderUtilization": "encoder",
    "correctedMemoryErrors": "corrected ECC errors",
    "unCorrectedMemoryErrors": "uncorrected ECC errors",
    "processMemoryBytes": "memory (process)",
}
_GPU_SLOTS = {name: 10 + index for index, name in enumerate(_GPU_NAMES)}

# key: (group, readable name, colour slot, in the chart's header line).
# Process and system quantities are in different groups, so never on one
# axis: a 150 MB process is not drawn against 21,000 MB of available memory.
_NAMED: dict[str, tuple[str, str, int, bool]] = {
    "cpu": ("CPU", "CPU (process)", 0, True),
    "proc.memory.rssMB": ("Process memory", "RSS", 1, True),
    "proc.memory.pssMB": ("Process memory", "PSS", 4, False),
    "proc.memory.percent": ("Process memory", "RSS share of total", 1, False),
    "proc.cpu.threads": ("Threads", "threads", 5, False),
    "proc.cpu.seconds": ("CPU time", "CPU-seconds (process)", 0, False),
    "memory": ("System memory", "used", 3, False),
    "proc.memory.availableMB": ("System memory", "available", 2, False),
    "disk.in": ("Disk I/O", "read", 6, False),
    "disk.out": ("Disk I/O", "written", 7, False),
    "network.sent": ("Network", "sent", 8, False),
    "network.recv": ("Network", "received", 9, False),
}
_CORE = re.compile(r"cpu\.(\d+)\.cpu_percent\Z")
_DISK = re.compile(r"disk\.(.+)\.(usagePercent|usageGB)\Z")


@dataclass(frozen=True)
class MetricInfo:
    group: str
    unit: str
    label: str = ""
    """The series' readable name in a legend ("CPU (process)", "GPU 0 memory")."""
    slot: int = 0
    """Its colour: the same slot, the same colour, on every chart and run."""
    headline: bool = False
    """Shown in the chart's header line of current values."""

    @property
    def panel(self) -> str:
        """A chart panel: one group, one unit, so an axis never mixes units."""
        return f"{self.group} ({self.unit})" if self.unit else self.group


def _slot(text: str) -> int:
    """A colour slot for a key the catalogue does not name: stable across
    processes (unlike `hash`)."""
    return zlib.crc32(text.encode()) % 997


@lru_cache(maxsize=4096)
def describe(key: str) -> MetricInfo:
    gpu = _GPU.match(key)
    if gpu:
        process, index, metric = gpu.group(1), gpu.group(2), gpu.group(3)
        group = f"GPU {index}" + (" process" if process else "")
        name = _GPU_NAMES.get(metric, metric)
        label = f"GPU {index} {name}"
        if process and metric != "processMemoryBytes":
            label += " (process)"
        headline = not process and metric in ("gpu", "memoryAllocatedBytes")
        return MetricInfo(
            group,
            _GPU_METRICS.get(metric, ""),
            label,
            _GPU_SLOTS.get(metric, _slot(metric)),
            headline,
        )
    unit = next((u for pattern, u in _COMPILED if pattern.match(key)), "")
    if key in _NAMED:
        group, label, slot, headline = _NAMED[key]
        return MetricInfo(group, unit, label, slot, headline)
    core = _CORE.match(key)
    if core:
        return MetricInfo("CPU per core", unit, f"core {core.group(1)}", 10 + int(core.group(1)))
    disk = _DISK.match(key)
    if disk:
        path = disk.group(1)
        label = f"{path} used" if disk.group(2) == "usagePercent" else path
        return MetricInfo("Disk usage", unit, label, _slot(path))
    head = key.split(".", 1)[0]
    if head in ("tpu", "trn", "ipu"):
        group = "Accelerators"
    elif head == "openmetrics":
        group = "OpenMetrics"
        return MetricInfo(group, unit, key.split(".", 1)[1] if "." in key else key, _slot(key))
    elif key.startswith("proc.cpu") or head == "cpu":
        group = "CPU"
    elif key.startswith("proc.memory"):
        group = "Process memory"
    elif head == "disk":
        group = "Disk I/O"
    elif head == "network":
        group = "Network"
    else:
        group = "Other"
    return MetricInfo(group, unit, key, _slot(key))


@dataclass(frozen=True)
class Key:
    """One documented key: a template (`{i}` a device index, `{path}` a disk
    path, …), its unit, the source that measures it and what it means."""

    key: str
    unit: str
    source: str
    meaning: str


KEYS: tuple[Key, ...] = (
    Key(
        "cpu",
        "percent",
        "psutil",
        "CPU use of the monitored process (and its children) normalized by the number of "
        "available CPUs",
    ),
    Key("cpu.{i}.cpu_percent", "percent", "psutil", "CPU use of the system on core i"),
    Key("proc.cpu.threads", "count", "psutil", "threads of the monitored process"),
    Key(
        "proc.cpu.seconds",
        "s",
        "psutil",
        "CPU time (user + system) of the monitored process tree since the first sample: "
        "a counter, so a cell's CPU-seconds is a difference",
    ),
    Key(
        "disk.{path}.usagePercent",
        "percent",
        "psutil",
        "disk usage of the file system holding path (one per configured path; / by default)",
    ),
    Key("disk.{path}.usageGB", "GB", "psutil", "disk usage in GB of the file system holding path"),
    Key("disk.in", "MB", "psutil", "system disk bytes read since the first sample"),
    Key("disk.out", "MB", "psutil", "system disk bytes written since the first sample"),
    Key("proc.memory.rssMB", "MB", "psutil", "resident set size of the monitored process"),
    Key(
        "proc.memory.pssMB",
        "MB",
        "psutil (beta feature proc_memory_pss)",
        "proportional set size of the monitored process tree: shared pages counted once, "
        "split among the processes sharing them",
    ),
    Key("proc.memory.percent", "percent", "psutil", "process RSS as a share of total memory"),
    Key("memory", "percent", "psutil", "system memory in use"),
    Key("proc.memory.availableMB", "MB", "psutil", "system memory available"),
    Key("network.sent", "bytes", "psutil", "bytes sent since the first sample"),
    Key("network.recv", "bytes", "psutil", "bytes received since the first sample"),
    Key(
        "gpu.{i}.memory",
        "percent",
        "nvml",
        "GPU memory utilization (time the memory was read or written)",
    ),
    Key(
        "gpu.{i}.memoryAllocated",
        "percent",
        "nvml",
        "GPU memory allocated as a share of the GPU's total memory",
    ),
    Key("gpu.{i}.memoryAllocatedBytes", "bytes", "nvml", "GPU memory allocated"),
    Key("gpu.{i}.gpu", "percent", "nvml", "GPU utilization"),
    Key("gpu.{i}.temp", "celsius", "nvml", "GPU temperature"),
    Key("gpu.{i}.powerWatts", "W", "nvml", "GPU power draw"),
    Key(
        "gpu.{i}.energyJoules",
        "J",
        "nvml",
        "energy the GPU used since the first sample (NVML's total-energy counter, Volta and "
        "later; absent where the GPU does not count it)",
    ),
    Key("gpu.{i}.powerPercent", "percent", "nvml", "power draw as a share of the power limit"),
    Key("gpu.{i}.smClock", "MHz", "nvml", "streaming multiprocessor clock"),
    Key("gpu.{i}.memoryClock", "MHz", "nvml", "memory clock"),
    Key("gpu.{i}.graphicsClock", "MHz", "nvml", "graphics clock"),
    Key("gpu.{i}.correctedMemoryErrors", "count", "nvml", "corrected ECC memory errors"),
    Key("gpu.{i}.unCorrectedMemoryErrors", "count", "nvml", "uncorrected ECC memory errors"),
    Key("gpu.{i}.encoderUtilization", "percent", "nvml", "video encoder utilization"),
    Key(
        "gpu.process.{i}.{metric}",
        "as above",
        "nvml",
        "every gpu.{i} metric again for each GPU that the process or its children use",
    ),
    Key(
        "gpu.process.{i}.processMemoryBytes",
        "bytes",
        "nvml",
        "GPU memory the monitored process tree itself holds on GPU i",
    ),
    Key("gpu.{i}.gpu", "percent", "amd (amdsmi or rocm-smi --json)", "AMD GPU utilization"),
    Key("gpu.{i}.memoryAllocated", "percent", "amd", "AMD GPU memory allocated"),
    Key("gpu.{i}.temp", "celsius", "amd", "AMD GPU temperature"),
    Key("gpu.{i}.powerWatts", "W", "amd", "AMD GPU power draw"),
    Key("gpu.{i}.powerPercent", "percent", "amd", "AMD GPU power as a share of its cap"),
    Key("gpu.0.gpu", "percent", "apple", "Apple GPU utilization (ARM Macs)"),
    Key("gpu.0.memoryAllocated", "percent", "apple", "Apple GPU memory allocated"),
    Key("gpu.0.temp", "celsius", "apple", "Apple GPU temperature"),
    Key("gpu.0.powerWatts", "W", "apple", "Apple GPU power draw"),
    Key("gpu.0.powerPercent", "percent", "apple", "Apple GPU power as a share of its capacity"),
    Key(
        "ipu.{device_id}.{metric_key}",
        "per metric",
        "gcipuinfo",
        "Graphcore IPU device metrics (board/die temperature C; clock MHz; power W; "
        "utilisation %; session utilisation %; link speed GT/s); a metric is recorded when "
        "it changes or is first read",
    ),
    Key(
        "tpu.{i}.memoryUsageBytes",
        "bytes",
        "tpu runtime metrics",
        "TPU high-bandwidth memory in use per core",
    ),
    Key(
        "tpu.{i}.memoryUsage",
        "percent",
        "tpu runtime metrics",
        "TPU high-bandwidth memory in use per core as a share",
    ),
    Key(
        "tpu.{i}.dutyCycle",
        "percent",
        "tpu runtime metrics",
        "share of the sample period the TensorCore was busy",
    ),
    Key(
        "trn.{core_index}.neuroncore_utilization",
        "percent",
        "neuron-monitor",
        "NeuronCore utilization",
    ),
    Key(
        "trn.host_total_memory_usage",
        "bytes",
        "neuron-monitor",
        "host memory used by the Neuron runtime",
    ),
    Key(
        "trn.neuron_device_total_memory_usage",
        "bytes",
        "neuron-monitor",
        "Neuron device memory used",
    ),
    Key(
        "trn.host_total_memory_usage.{application_memory|constants|dma_buffers|tensors}",
        "bytes",
        "neuron-monitor",
        "host memory breakdown",
    ),
    Key(
        "trn.{core_index}.neuroncore_memory_usage.{constants|model_code|model_shared_scratchpad|runtime_memory|tensors}",
        "bytes",
        "neuron-monitor",
        "per-core memory breakdown",
    ),
    Key(
        "openmetrics.{endpoint}.{metric}{labels}",
        "as scraped",
        "openmetrics",
        "series scraped from a configured Prometheus/OpenMetrics endpoint that pass its "
        "regex filters",
    ),
)
