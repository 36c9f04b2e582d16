"""AMD GPUs: the `amdsmi` Python library when importable, else `rocm-smi -a --json`.

amdsmi is an in-process library call, cheap enough for the fast path.
`rocm-smi -a` is a Python program that takes a second or more to run, so
that path is a slow collector.

rocm-smi has renamed its JSON fields across ROCm releases (and MI300 has no
edge sensor, and reports "Current Socket" rather than "Average" power), so
each reading takes the first of several known field names that holds a
number.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from .base import Collector, Probe, as_number, run_tool, which

log = logging.getLogger(__name__)

ROCM_SMI = ("rocm-smi", "-a", "--json")

_GPU = ("GPU use (%)",)
_MEMORY = ("GPU Memory Allocated (VRAM%)", "GPU memory use (%)")
_TEMP = (
    "Temperature (Sensor edge) (C)",
    "Temperature (Sensor junction) (C)",
    "Temperature (Sensor memory) (C)",
)
_POWER = (
    "Average Graphics Package Power (W)",
    "Current Socket Graphics Package Power (W)",
)
_POWER_CAP = ("Max Graphics Package Power (W)",)
_UNSUPPORTED = 0xFFFFFFFF  # amdsmi fills readings a card lacks with UINT32_MAX


def _first(stats: dict[str, Any], names: Sequence[str]) -> float | None:
    for name in names:
        value = as_number(stats.get(name))
        if value is not None:
            return value
    return None


def parse_rocm_smi(document: dict[str, Any]) -> dict[str, float]:
    """`gpu.{i}.*` from `rocm-smi -a --json` output ({"card0": {...}, "system": {...}})."""
    values: dict[str, float] = {}
    for card, stats in document.items():
        match = re.fullmatch(r"card(\d+)", card)
        if not match or not isinstance(stats, dict):
            continue
        prefix = f"gpu.{match.group(1)}."
        readings = {
            "gpu": _first(stats, _GPU),
            "memoryAllocated": _first(stats, _MEMORY),
            "temp": _first(stats, _TEMP),
            "powerWatts": _first(stats, _POWER),
        }
        cap = _first(stats, _POWER_CAP)
        power = readings["powerWatts"]
        if power is not None and cap:
            readings["powerPercent"] = power / cap * 100.0
        values.update({prefix + k: v for k, v in readings.items() if v is not None})
    return values


def _watts(value: object) -> float | None:
    number = as_number(value)
    if number is None or number >= _UNSUPPORTED or number < 0:
        return None
    # amdsmi 7.x reports power_limit in microwatts where 6.x used watts.
    return number / 1e6 if number > 100_000 else number


def _activity(amdsmi: ModuleType, handle: Any) -> dict[str, float]:
    value = as_number(amdsmi.amdsmi_get_gpu_activity(handle)["gfx_activity"])
    return {"gpu": value} if value is not None else {}


def _vram(amdsmi: ModuleType, handle: Any) -> dict[str, float]:
    vram = amdsmi.amdsmi_get_gpu_vram_usage(handle)
    used, total = as_number(vram["vram_used"]), as_number(vram["vram_total"])
    return {"memoryAllocated": used / total * 100.0} if used is not None and total else {}


def _temperature(amdsmi: ModuleType, handle: Any) -> dict[str, float]:
    kinds = amdsmi.AmdSmiTemperatureType
    current = amdsmi.AmdSmiTemperatureMetric.CURRENT
    for sensor in (kinds.EDGE, kinds.HOTSPOT):  # MI300 has no edge sensor
        try:
            value = as_number(amdsmi.amdsmi_get_temp_metric(handle, sensor, current))
        except amdsmi.AmdSmiLibraryException:
            continue
        if value is not None:
            return {"temp": value}
    return {}


def _power(amdsmi: ModuleType, handle: Any) -> dict[str, float]:
    info = amdsmi.amdsmi_get_power_info(handle)
    for field in ("socket_power", "current_socket_power", "average_socket_power"):
        power = _watts(info.get(field))
        if power:
            limit = _watts(info.get("power_limit"))
            percent = {"powerPercent": power / limit * 100.0} if limit else {}
            return {"powerWatts": power, **percent}
    return {}


_LIBRARY_READINGS: dict[str, Callable[[ModuleType, Any], dict[str, float]]] = {
    "gpu": _activity,
    "memoryAllocated": _vram,
    "temp": _temperature,
    "power": _power,
}


class AmdCollector(Collector):
    """`gpu.{i}.gpu`, `memoryAllocated`, `temp`, `powerWatts`, `powerPercent` of AMD GPUs."""

    name = "amd"

    def __init__(
        self,
        run: Callable[[Sequence[str]], bytes] = run_tool,
        library: str | None = "amdsmi",
    ) -> None:
        self._run = run
        self._library = library
        self._amdsmi: ModuleType | None = None
        self._handles: list[Any] = []
        self._disabled: set[tuple[int, str]] = set()
        self._info: dict[str, object] = {}

    def probe(self) -> Probe:
        library_problem = "amdsmi not installed"
        amdsmi = self._import_library()
        if amdsmi is not None:
            try:
                amdsmi.amdsmi_init()
                self._handles = list(amdsmi.amdsmi_get_processor_handles())
            except Exception as exc:  # amdsmi raises its own AmdSmiException tree
                library_problem = f"amdsmi unusable: {exc}"
            else:
                if self._handles:
                    self._amdsmi = amdsmi
                    self._info = {"source": "amdsmi", "devices": self._describe(amdsmi)}
                    return Probe(True)
                amdsmi.amdsmi_shut_down()
                library_problem = "amdsmi reports no AMD GPU"
        if which(ROCM_SMI[0]) is None:
            return Probe(False, f"{library_problem}, and rocm-smi is not installed")
        self.slow = True
        try:
            cards = parse_rocm_smi(json.loads(self._run(ROCM_SMI)))
        except (OSError, ValueError, RuntimeError) as exc:
            return Probe(False, f"rocm-smi failed: {exc}")
        if not cards:
            return Probe(False, "rocm-smi reports no AMD GPU")
        self._info = {"source": "rocm-smi"}
        return Probe(True)

    def _import_library(self) -> ModuleType | None:
        if not self._library:
            return None
        try:
            return importlib.import_module(self._library)
        except ImportError:
            return None

    def _describe(self, amdsmi: ModuleType) -> list[dict[str, object]]:
        described: list[dict[str, object]] = []
        for index, handle in enumerate(self._handles):
            entry: dict[str, object] = {"index": index}
            try:
                entry["pci_bus_id"] = str(amdsmi.amdsmi_get_gpu_device_bdf(handle))
                entry["name"] = str(amdsmi.amdsmi_get_gpu_asic_info(handle)["market_name"])
            except Exception as exc:
                entry["error"] = str(exc)
            described.append(entry)
        return described

    def _library_sample(self, amdsmi: ModuleType) -> dict[str, float]:
        values: dict[str, float] = {}
        for index, handle in enumerate(self._handles):
            prefix = f"gpu.{index}."
            for name, reading in _LIBRARY_READINGS.items():
                if (index, name) in self._disabled:
                    continue
                try:
                    readings = reading(amdsmi, handle)
                except Exception as exc:  # amdsmi raises its own exception tree
                    self._disabled.add((index, name))
                    log.info("labdeck: amd gpu.%d %s turned off: %s", index, name, exc)
                    continue
                values.update({prefix + key: value for key, value in readings.items()})
        return values

    def sample(self) -> dict[str, float]:
        if self._amdsmi is not None:
            return self._library_sample(self._amdsmi)
        return parse_rocm_smi(json.loads(self._run(ROCM_SMI)))

    def info(self) -> dict[str, object]:
        return dict(self._info)

    def close(self) -> None:
        if self._amdsmi is not None:
            try:
                self._amdsmi.amdsmi_shut_down()
            except Exception as exc:
                log.debug("amdsmi_shut_down failed: %s", exc)
            self._amdsmi = None
