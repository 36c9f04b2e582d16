"""Every collector labdeck knows, built for one monitor.

Building a collector does no I/O; the sampler's probe decides which stay, so
this list can name hardware the machine does not have.
"""

from __future__ import annotations

from .amd import AmdCollector
from .apple import AppleCollector
from .base import Collector, Probe, SamplerConfig
from .host import HostCollector
from .ipu import IpuCollector
from .nvidia import NvidiaCollector, NvidiaProcessCollector, NvmlSession
from .openmetrics import OpenMetricsCollector
from .pss import PssCollector
from .tpu import TpuCollector
from .trainium import TrainiumCollector

__all__ = [
    "AmdCollector",
    "AppleCollector",
    "Collector",
    "HostCollector",
    "IpuCollector",
    "NvidiaCollector",
    "NvidiaProcessCollector",
    "NvmlSession",
    "OpenMetricsCollector",
    "Probe",
    "PssCollector",
    "SamplerConfig",
    "TpuCollector",
    "TrainiumCollector",
    "available_collectors",
]


def _wanted(name: str, enabled: set[str] | None) -> bool:
    # "nvidia" also enables "nvidia.process": a family is enabled by its first part.
    return enabled is None or name in enabled or name.split(".", 1)[0] in enabled


def available_collectors(config: SamplerConfig) -> list[Collector]:
    """One instance of each collector that `config.enabled` allows, in sampling order."""
    nvml = NvmlSession()
    collectors: list[Collector] = [
        HostCollector(config),
        NvidiaCollector(nvml),
        NvidiaProcessCollector(nvml, config.pid),
        AmdCollector(),
        AppleCollector(),
        TpuCollector(),
        TrainiumCollector(config.pid, period=max(config.effective_slow_interval, 1.0)),
        IpuCollector(config.pid),
        OpenMetricsCollector(
            config.openmetrics_endpoints,
            config.openmetrics_filters,
            histograms=config.openmetrics_histograms,
        ),
    ]
    if config.pss:
        collectors.append(PssCollector(config.pid))
    return [c for c in collectors if _wanted(c.name, config.enabled)]
