"""Graphcore IPUs through the `gcipuinfo` Python module.

`gcipuinfo.getDevices()` returns, per IPU, the same attribute strings that
`gc-info --device-info` prints ("average board temp": "17.8 C", "clock":
"1850MHz", "ipu power": "N/A", "link speed": "16.0 GT/s"...). Only the IPUs
attached to the monitored process tree ("user process id") are recorded,
under `ipu.{id}.{attribute} ({unit})`, and a metric is recorded when it is
first read or when it changed: most attributes sit still for hours, and
repeating them would only bloat the run.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from .base import Collector, Probe, process_tree

METRICS: dict[str, str] = {
    "average board temp": "C",
    "average die temp": "C",
    "clock": "MHz",
    "ipu power": "W",
    "ipu utilisation": "%",
    "ipu utilisation (session)": "%",
    "link speed": "GT/s",
}
_READING = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)\s*(\S*)\s*")


def parse_metric(attribute: str, text: str) -> tuple[str, float] | None:
    """(`attribute (unit)`, value) for a known attribute whose text carries its unit."""
    unit = METRICS.get(attribute)
    match = _READING.fullmatch(text) if unit is not None else None
    if match is None or match.group(2).lower() not in ("", (unit or "").lower()):
        return None
    return f"{attribute} ({unit})", float(match.group(1))


class IpuCollector(Collector):
    """Temperatures, clock, power, utilisation and link speed of the tree's IPUs."""

    name = "ipu"
    slow = True

    def __init__(
        self,
        pid: int | None,
        module: str = "gcipuinfo",
        tree: Callable[[int], set[int]] = process_tree,
    ) -> None:
        self._pid = pid
        self._module = module
        self._tree = tree
        self._reader: Any = None
        self._last: dict[str, float] = {}
        self._boards: dict[str, dict[str, str]] = {}

    def probe(self) -> Probe:
        try:
            gcipuinfo = importlib.import_module(self._module)
        except ImportError:
            return Probe(False, "gcipuinfo not installed")
        try:
            reader = gcipuinfo.gcipuinfo()
            reader.setUpdateMode(True)
            devices = reader.getDevices()
        except Exception as exc:  # the binding raises RuntimeError and friends
            return Probe(False, f"gcipuinfo cannot list IPUs: {exc}")
        if not devices:
            return Probe(False, "no IPU")
        self._reader = reader
        return Probe(True)

    def sample(self) -> dict[str, float]:
        if self._reader is None:
            raise RuntimeError("gcipuinfo is not initialised")
        tree = self._tree(self._pid) if self._pid is not None else None
        values: dict[str, float] = {}
        for device in self._reader.getDevices():
            attributes = {str(k): str(v) for k, v in dict(device).items()}
            owner = attributes.get("user process id", "")
            device_id = attributes.get("id")
            if device_id is None or not owner.isdigit():
                continue
            if tree is not None and int(owner) not in tree:
                continue
            self._boards[device_id] = {
                key: attributes[key]
                for key in (
                    "board type",
                    "board serial number",
                    "board ipu index",
                    "ipu architecture",
                )
                if key in attributes
            }
            for attribute, text in attributes.items():
                parsed = parse_metric(attribute, text)
                if parsed is None:
                    continue
                key = f"ipu.{device_id}.{parsed[0]}"
                if self._last.get(key) != parsed[1]:
                    self._last[key] = values[key] = parsed[1]
        return values

    def info(self) -> dict[str, object]:
        return {"devices": {device: dict(board) for device, board in self._boards.items()}}

    def close(self) -> None:
        self._reader = None
