"""Kernel-side defaults, from the environment the Jupyter server exported
(`LabdeckApp.sample_interval`, `flush_interval`) or that the user set."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


def _float(name: str, fallback: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else fallback


@dataclass
class KernelSettings:
    interval: float = 10.0
    flush_interval: float = 5.0
    disk_paths: list[str] = field(default_factory=lambda: ["/"])
    openmetrics_endpoints: dict[str, str] = field(default_factory=dict)
    openmetrics_filters: list[str] = field(default_factory=lambda: [".*"])

    @classmethod
    def from_env(cls) -> KernelSettings:
        env = os.environ
        settings = cls(
            interval=_float("LABDECK_SAMPLE_INTERVAL", 10.0),
            flush_interval=_float("LABDECK_FLUSH_INTERVAL", 5.0),
        )
        if env.get("LABDECK_DISK_PATHS"):
            settings.disk_paths = [p for p in env["LABDECK_DISK_PATHS"].split(os.pathsep) if p]
        if env.get("LABDECK_OPENMETRICS_ENDPOINTS"):
            settings.openmetrics_endpoints = dict(json.loads(env["LABDECK_OPENMETRICS_ENDPOINTS"]))
        if env.get("LABDECK_OPENMETRICS_FILTERS"):
            settings.openmetrics_filters = list(json.loads(env["LABDECK_OPENMETRICS_FILTERS"]))
        return settings
