"""NVIDIA GPUs through NVML (`nvidia-ml-py`, imported as `pynvml`).

Devices are numbered in NVML order (PCI bus order, which is not CUDA's
default order unless `CUDA_DEVICE_ORDER=PCI_BUS_ID`), so `info()` records
each index's PCI bus id and UUID. A GPU in MIG mode is listed, followed by
each of its MIG slices as a device of its own: the parent carries the
board-wide readings (temperature, power, clocks, ECC), each slice its own
memory. With MIG, `gpu.{i}` is a position in that list rather than the NVML
index; `info()` gives each position's NVML index and MIG parent.

A reading that raises `NVMLError` once (for example encoder utilisation on
an H100, which has no NVENC, or utilisation on a MIG slice) is turned off
for that device and never retried; the other readings go on. That is
ordinary on a first reading (logged at info level); a reading that worked
and then fails is a warning and a `%labdeck status` entry. Each GPU is its
own unit of failure: one that cannot be opened at start, or that NVML
reports lost (`NVML_ERROR_GPU_IS_LOST`) mid-run, is left out with a warning
and a status entry, and the healthy GPUs beside it go on.

Memory is read with `nvmlDeviceGetMemoryInfo_v2` where the driver has it:
v1 counts the driver's reserved memory as used, so an idle GPU is not at 0
and labdeck would disagree with nvidia-smi. Process lists use the `_v3`
calls and fall back to `_v2` on drivers without them.

The per-process view needs `nvmlDeviceGetComputeRunningProcesses` and its
graphics twin, which take milliseconds per GPU; `NvidiaProcessCollector`
runs them on the slow cadence and tells the fast collector which devices the
monitored process tree uses, so the fast path never calls them. In MIG mode
NVML lists a process on its slice and again on the parent GPU: only slices
are asked, so a process's memory counts once; the parent counts as used
(its board-wide readings appear under `gpu.process.*`) when a slice is. NVML is
thread-safe and serialises on a driver lock, so the price of the second
thread is that a fast reading may wait for one process-list call.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import psutil

from .base import Collector, Probe, process_tree

log = logging.getLogger(__name__)

Reading = Callable[[ModuleType, Any], dict[str, float]]

GPU_IS_LOST = 15  # NVML_ERROR_GPU_IS_LOST
FUNCTION_NOT_FOUND = 13  # NVML_ERROR_FUNCTION_NOT_FOUND
_NO_SUCH_CALL = frozenset({3, 13, 25})  # NOT_SUPPORTED, FUNCTION_NOT_FOUND, VERSION_MISMATCH
_PROCESS_CALLS = {
    "compute": (
        "nvmlDeviceGetComputeRunningProcesses",  # the _v3 call in nvidia-ml-py >= 11.510
        "nvmlDeviceGetComputeRunningProcesses_v2",
    ),
    "graphics": (
        "nvmlDeviceGetGraphicsRunningProcesses",
        "nvmlDeviceGetGraphicsRunningProcesses_v2",
    ),
}


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _pid_exists(pid: int) -> bool:
    try:
        return psutil.pid_exists(pid)
    except (OverflowError, ValueError):  # NVML pids are unsigned 32-bit
        return False


def _utilization(nvml: ModuleType, handle: Any) -> dict[str, float]:
    rates = nvml.nvmlDeviceGetUtilizationRates(handle)
    return {"gpu": float(rates.gpu), "memory": float(rates.memory)}


def _error_code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _memory(nvml: ModuleType, handle: Any, device: NvmlDevice | None = None) -> dict[str, float]:
    """Used memory, from `_v2` (reserved memory not counted) unless the driver lacks it."""
    version = getattr(nvml, "nvmlMemory_v2", None)
    memory = None
    if version is not None and (device is None or device.memory_v2 is not False):
        try:
            memory = nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
        except TypeError:  # an nvidia-ml-py without the version argument
            pass
        except nvml.NVMLError as exc:
            if _error_code(exc) not in _NO_SUCH_CALL:
                raise
        if device is not None:
            device.memory_v2 = memory is not None
    if memory is None:
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    share = memory.used / memory.total * 100.0 if memory.total else 0.0
    return {"memoryAllocated": share, "memoryAllocatedBytes": float(memory.used)}


def _temperature(nvml: ModuleType, handle: Any) -> dict[str, float]:
    return {"temp": float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))}


def _power(nvml: ModuleType, handle: Any) -> dict[str, float]:
    return {"powerWatts": nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0}


def _energy(nvml: ModuleType, handle: Any) -> dict[str, float]:
    """NVML's total-energy counter (millijoules since the driver loaded;
    Volta and later). A GPU or binding without it disables this reading, and
    the per-cell ledger then integrates `powerWatts`, marked estimated."""
    read = getattr(nvml, "nvmlDeviceGetTotalEnergyConsumption", None)
    if read is None:
        raise nvml.NVMLError(FUNCTION_NOT_FOUND)
    return {"energyJoules": float(read(handle)) / 1000.0}


def _power_percent(nvml: ModuleType, handle: Any) -> dict[str, float]:
    limit = nvml.nvmlDeviceGetEnforcedPowerLimit(handle)
    usage = nvml.nvmlDeviceGetPowerUsage(handle)
    return {"powerPercent": usage / limit * 100.0} if limit else {}


def _clock(key: str, constant: str) -> Reading:
    def read(nvml: ModuleType, handle: Any) -> dict[str, float]:
        return {key: float(nvml.nvmlDeviceGetClockInfo(handle, getattr(nvml, constant)))}

    return read


def _ecc(key: str, constant: str) -> Reading:
    def read(nvml: ModuleType, handle: Any) -> dict[str, float]:
        error_type = getattr(nvml, constant)
        count = nvml.nvmlDeviceGetTotalEccErrors(handle, error_type, nvml.NVML_VOLATILE_ECC)
        return {key: float(count)}

    return read


def _encoder(nvml: ModuleType, handle: Any) -> dict[str, float]:
    return {"encoderUtilization": float(nvml.nvmlDeviceGetEncoderUtilization(handle)[0])}


READINGS: dict[str, Reading] = {
    "utilization": _utilization,
    "memory": _memory,
    "temp": _temperature,
    "powerWatts": _power,
    "energyJoules": _energy,
    "powerPercent": _power_percent,
    "smClock": _clock("smClock", "NVML_CLOCK_SM"),
    "memoryClock": _clock("memoryClock", "NVML_CLOCK_MEM"),
    "graphicsClock": _clock("graphicsClock", "NVML_CLOCK_GRAPHICS"),
    "correctedMemoryErrors": _ecc("correctedMemoryErrors", "NVML_MEMORY_ERROR_TYPE_CORRECTED"),
    "unCorrectedMemoryErrors": _ecc(
        "unCorrectedMemoryErrors", "NVML_MEMORY_ERROR_TYPE_UNCORRECTED"
    ),
    "encoderUtilization": _encoder,
}


@dataclass
class NvmlDevice:
    """One monitored device: a whole GPU or one MIG slice of it."""

    index: int
    handle: Any
    info: dict[str, object]
    prefix: str = ""
    process_prefix: str = ""
    disabled: dict[str, str] = field(default_factory=dict)
    worked: set[str] = field(default_factory=set)
    lost: str = ""
    memory_v2: bool | None = None
    process_calls: dict[str, str] = field(default_factory=dict)
    energy_base: float | None = None

    @property
    def mig_parent(self) -> bool:
        return bool(self.info.get("mig"))

    def __post_init__(self) -> None:
        self.prefix = f"gpu.{self.index}."
        self.process_prefix = f"gpu.process.{self.index}."


class NvmlSession:
    """NVML initialised once for the collectors that share its device list.

    `used_devices` is written by the process collector (slow thread) and read
    by the device collector (fast thread); replacing a frozenset is atomic.
    """

    def __init__(self) -> None:
        self.nvml: ModuleType | None = None
        self.devices: list[NvmlDevice] = []
        self.used_devices: frozenset[int] = frozenset()
        self.driver = ""
        self._users = 0
        self._lock = threading.Lock()
        self._probe: Probe | None = None
        self._problems: dict[str, str] = {}
        self._problems_lock = threading.Lock()  # apart: devices are reported inside open()

    def report(self, what: str, why: str) -> None:
        """A device or reading that failed after start: a warning, and a status entry."""
        with self._problems_lock:
            if what in self._problems:
                return
            self._problems[what] = why
        warnings.warn(f"labdeck: {what}: {why}", RuntimeWarning, stacklevel=3)

    def problems(self) -> dict[str, str]:
        with self._problems_lock:
            return dict(self._problems)

    def lose(self, device: NvmlDevice, why: str) -> None:
        """Stop reading a device NVML reports lost; the others go on."""
        if not device.lost:
            device.lost = why
            self.report(f"gpu.{device.index} lost", f"{why}; its readings stop, the others go on")

    def open(self) -> Probe:
        with self._lock:
            if self._probe is None or not self._probe.present:
                self._probe = self._init()
            if self._probe.present:
                self._users += 1
            return self._probe

    def _init(self) -> Probe:
        try:
            nvml = importlib.import_module("pynvml")
        except ImportError:
            return Probe(False, "nvidia-ml-py not installed")
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            return Probe(False, f"no NVIDIA driver ({_text(exc)})")
        try:
            self.driver = _text(nvml.nvmlSystemGetDriverVersion())
            self.devices = self._enumerate(nvml)
        except nvml.NVMLError as exc:
            nvml.nvmlShutdown()
            return Probe(False, f"NVML could not list devices ({_text(exc)})")
        if not self.devices:
            nvml.nvmlShutdown()
            if self._problems:
                unreadable = "; ".join(f"{k}: {v}" for k, v in self._problems.items())
                return Probe(False, f"no NVIDIA GPU could be read ({unreadable})")
            return Probe(False, "no NVIDIA GPU")
        self.nvml = nvml
        return Probe(True)

    @staticmethod
    def _describe(nvml: ModuleType, handle: Any) -> dict[str, object]:
        described: dict[str, object] = {}
        for key, call in (
            ("name", nvml.nvmlDeviceGetName),
            ("uuid", nvml.nvmlDeviceGetUUID),
        ):
            try:
                described[key] = _text(call(handle))
            except nvml.NVMLError:
                continue
        try:
            described["memory_total_bytes"] = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
        except nvml.NVMLError:
            pass
        return described

    def _enumerate(self, nvml: ModuleType) -> list[NvmlDevice]:
        devices: list[NvmlDevice] = []
        for gpu in range(nvml.nvmlDeviceGetCount()):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(gpu)
                bus_id = _text(nvml.nvmlDeviceGetPciInfo(handle).busId)
            except nvml.NVMLError as exc:
                # One GPU that cannot be opened (lost, fallen off the bus) is
                # left out; the healthy ones beside it are monitored.
                self.report(f"NVML GPU {gpu} left out", _text(exc))
                continue
            info = self._describe(nvml, handle)
            info["nvml_index"] = gpu
            info["pci_bus_id"] = bus_id
            try:
                mig_mode = nvml.nvmlDeviceGetMigMode(handle)[0]
            except nvml.NVMLError:
                mig_mode = None
            info["mig"] = mig_mode == nvml.NVML_DEVICE_MIG_ENABLE
            parent = len(devices)
            devices.append(NvmlDevice(parent, handle, info))
            if not info["mig"]:
                continue
            for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
                try:
                    slice_handle = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
                except nvml.NVMLError:
                    continue  # an empty slot
                slice_info = self._describe(nvml, slice_handle)
                slice_info.update(nvml_index=gpu, pci_bus_id=info["pci_bus_id"], mig_parent=parent)
                for key, call in (
                    ("gpu_instance_id", nvml.nvmlDeviceGetGpuInstanceId),
                    ("compute_instance_id", nvml.nvmlDeviceGetComputeInstanceId),
                ):
                    try:
                        slice_info[key] = int(call(slice_handle))
                    except nvml.NVMLError:
                        continue
                devices.append(NvmlDevice(len(devices), slice_handle, slice_info))
        return devices

    def close(self) -> None:
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0 and self.nvml is not None:
                try:
                    self.nvml.nvmlShutdown()
                except self.nvml.NVMLError as exc:
                    log.debug("nvmlShutdown failed: %s", _text(exc))
                self.nvml, self.devices, self._probe = None, [], None


class NvidiaCollector(Collector):
    """Every `gpu.{i}.*` reading, and `gpu.process.{i}.*` for the devices the tree uses."""

    name = "nvidia"

    def __init__(self, session: NvmlSession | None = None) -> None:
        self.session = session or NvmlSession()
        self._opened = False

    def probe(self) -> Probe:
        result = self.session.open()
        self._opened = result.present
        return result

    def sample(self) -> dict[str, float]:
        nvml = self.session.nvml
        if nvml is None:
            raise RuntimeError("NVML is not initialised")
        used = self.session.used_devices
        values: dict[str, float] = {}
        for device in self.session.devices:
            if device.lost:
                continue
            readings: dict[str, float] = {}
            for name, reading in READINGS.items():
                if name in device.disabled:
                    continue
                try:
                    if reading is _memory:
                        readings.update(_memory(nvml, device.handle, device))
                    else:
                        readings.update(reading(nvml, device.handle))
                except nvml.NVMLError as exc:
                    if _error_code(exc) == GPU_IS_LOST:
                        self.session.lose(device, _text(exc))
                        readings = {}
                        break
                    device.disabled[name] = _text(exc)
                    if name in device.worked:
                        self.session.report(f"gpu.{device.index} {name}", f"stopped: {_text(exc)}")
                    else:
                        log.info("labdeck: gpu.%d %s unsupported: %s", device.index, name, exc)
                    continue
                device.worked.add(name)
            if "energyJoules" in readings:
                # A counter since the driver loaded: recorded from the first sample.
                if device.energy_base is None:
                    device.energy_base = readings["energyJoules"]
                readings["energyJoules"] -= device.energy_base
            prefix = device.prefix
            values.update({prefix + key: value for key, value in readings.items()})
            if device.index in used:
                prefix = device.process_prefix
                values.update({prefix + key: value for key, value in readings.items()})
        return values

    def info(self) -> dict[str, object]:
        return {
            "driver": self.session.driver,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuda_device_order": os.environ.get("CUDA_DEVICE_ORDER"),
            "devices": [
                {
                    **device.info,
                    "index": device.index,
                    "unsupported": dict(device.disabled),
                    **({"lost": device.lost} if device.lost else {}),
                }
                for device in self.session.devices
            ],
        }

    def problems(self) -> dict[str, str]:
        return self.session.problems()

    def close(self) -> None:
        if self._opened:
            self._opened = False
            self.session.close()


class NvidiaProcessCollector(Collector):
    """Which devices the monitored process tree uses, and how much memory it holds on each."""

    name = "nvidia.process"
    slow = True

    def __init__(self, session: NvmlSession, pid: int) -> None:
        self.session = session
        self._pid = pid
        self._opened = False
        self._warned = False
        self._failing: set[tuple[int, str]] = set()  # (device, "compute" or "graphics")

    def probe(self) -> Probe:
        result = self.session.open()
        self._opened = result.present
        return result

    def _list(self, nvml: ModuleType, device: NvmlDevice, kind: str) -> list[Any]:
        """One kind of process list, from the newest call the driver has."""
        chosen = device.process_calls.get(kind)
        calls = (chosen,) if chosen else _PROCESS_CALLS[kind]
        for call in calls:
            function = getattr(nvml, call, None)
            if function is None:
                continue
            try:
                found = list(function(device.handle))
            except nvml.NVMLError as exc:
                if _error_code(exc) == GPU_IS_LOST:
                    self.session.lose(device, _text(exc))
                    return []
                if _error_code(exc) in _NO_SUCH_CALL - {3} and call != calls[-1]:
                    log.info(
                        "labdeck: gpu.%d %s: %s, trying the older one", device.index, call, exc
                    )
                    continue  # an older driver: the _v2 call
                self._failing.add((device.index, kind))
                log.info("labdeck: gpu.%d %s turned off: %s", device.index, call, _text(exc))
                return []
            device.process_calls[kind] = call
            return found
        self._failing.add((device.index, kind))
        return []

    def _processes(self, nvml: ModuleType, device: NvmlDevice) -> list[Any]:
        found: list[Any] = []
        for kind in _PROCESS_CALLS:
            if (device.index, kind) not in self._failing and not device.lost:
                found.extend(self._list(nvml, device, kind))
        return found

    def sample(self) -> dict[str, float]:
        nvml = self.session.nvml
        if nvml is None:
            raise RuntimeError("NVML is not initialised")
        tree = process_tree(self._pid)
        values: dict[str, float] = {}
        used: set[int] = set()
        listed: set[int] = set()
        for device in self.session.devices:
            if device.mig_parent or device.lost:
                continue  # a MIG parent lists its slices' processes again: ask the slices
            memory: dict[int, int] = {}
            for process in self._processes(nvml, device):
                listed.add(int(process.pid))
                if process.pid in tree:
                    memory[int(process.pid)] = max(
                        memory.get(int(process.pid), 0), int(process.usedGpuMemory or 0)
                    )
            if memory:
                used.add(device.index)
                parent = device.info.get("mig_parent")
                if isinstance(parent, int):
                    used.add(parent)  # its board-wide readings concern the process too
                values[f"{device.process_prefix}processMemoryBytes"] = float(sum(memory.values()))
        self.session.used_devices = frozenset(used)
        if listed and not used and not self._warned:
            self._warn_if_foreign_pids(listed)
        return values

    def _warn_if_foreign_pids(self, listed: set[int]) -> None:
        if any(_pid_exists(pid) for pid in listed):
            return
        self._warned = True
        warnings.warn(
            "labdeck: NVML lists GPU processes whose pids do not exist here "
            f"({sorted(listed)[:5]}); this looks like a container without the host PID "
            "namespace, so gpu.process.* cannot be attributed to this process tree",
            RuntimeWarning,
            stacklevel=2,
        )

    def close(self) -> None:
        if self._opened:
            self._opened = False
            self.session.used_devices = frozenset()
            self.session.close()
