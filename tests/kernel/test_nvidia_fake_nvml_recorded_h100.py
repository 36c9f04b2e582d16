"""NVIDIA collectors against a fake `pynvml` answering with recorded H100 readings.

The recording (tests/data/nvml_h100.json) holds two H100 80GB HBM3: GPU 0
whole, GPU 1 in MIG mode with two 3g.40gb slices. Every NVML call the
collectors make goes through the fake, so the tests see exactly which calls
are made, how often, and what an NVMLError does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import types
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labdeck.kernel.collectors.base import SamplerConfig
from labdeck.kernel.collectors.nvidia import NvidiaCollector, NvidiaProcessCollector, NvmlSession
from labdeck.kernel.sampler import Sampler

DATA = Path(__file__).parent.parent / "data"
H100_TOTAL = 85520809984
MEMORY_V2 = 0x02000028  # nvidia-ml-py's nvmlMemory_v2
USED_V1, USED_V2 = 47244640256, 47244640256 - 512 * 2**20
NO_SUCH_PID = 4_194_399  # above Linux's PID_MAX_LIMIT (2**22)
GPU_KEY = re.compile(
    r"gpu\.(process\.)?\d+\.(memory|memoryAllocated|memoryAllocatedBytes|gpu|temp|powerWatts"
    r"|powerPercent|smClock|memoryClock|graphicsClock|correctedMemoryErrors"
    r"|unCorrectedMemoryErrors|encoderUtilization|processMemoryBytes)"
)
_MESSAGES = {
    3: "Not Supported",
    6: "Not Found",
    9: "Driver Not Loaded",
    13: "Function Not Found",
    15: "GPU is lost",
    999: "Unknown Error",
}
GPU_IS_LOST, FUNCTION_NOT_FOUND = 15, 13


class FakeNVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML error {self.value}")


class FakeNvml:
    """The recorded devices, and a count of every call made against each handle."""

    def __init__(self, recording: dict[str, Any], pids: dict[str, int]) -> None:
        self.devices = {d["handle"]: d for d in recording["devices"]}
        self.driver = recording["driver"]
        self.pids = pids
        self.calls: Counter[tuple[str, str]] = Counter()
        self.inits = self.shutdowns = 0
        self.init_error: int | None = None
        self.handle_errors: dict[int, int] = {}  # NVML index -> error of GetHandleByIndex
        self.lost: set[str] = set()  # handles every call on which answers GPU_IS_LOST
        self.no_v3 = False  # a driver older than the _v3 process lists

    def answer(self, handle: str, call: str, *key: object) -> Any:
        self.calls[(handle, call)] += 1
        if handle in self.lost:
            raise FakeNVMLError(GPU_IS_LOST)
        if call not in self.devices[handle]:
            raise FakeNVMLError(FUNCTION_NOT_FOUND)  # not in the recording: a driver without it
        entry = self.devices[handle][call]
        if key and isinstance(entry, dict) and "error" not in entry:
            entry = entry[str(key[0])]
        if isinstance(entry, dict) and set(entry) == {"error"}:
            raise FakeNVMLError(entry["error"])
        return entry

    def processes(self, handle: str, call: str) -> list[types.SimpleNamespace]:
        if call.endswith("_v2"):  # the same recorded list, counted as the _v2 call
            self.calls[(handle, call)] += 1
            self.calls[(handle, call[: -len("_v2")])] -= 1
            call = call[: -len("_v2")]
        elif self.no_v3:
            self.calls[(handle, call)] += 1
            raise FakeNVMLError(FUNCTION_NOT_FOUND)
        listed = self.answer(handle, call)
        return [
            types.SimpleNamespace(**{**p, "pid": self.pids.get(str(p["pid"]), p["pid"])})
            for p in listed
        ]

    def module(self) -> types.ModuleType:
        nvml = types.ModuleType("pynvml")
        ns = types.SimpleNamespace
        top = [h for h in self.devices if "/" not in h]

        def init() -> None:
            if self.init_error is not None:
                raise FakeNVMLError(self.init_error)
            self.inits += 1

        def shutdown() -> None:
            self.shutdowns += 1

        def handle_by_index(index: int) -> str:
            if index in self.handle_errors:
                raise FakeNVMLError(self.handle_errors[index])
            return top[index]

        def memory_info(handle: str, version: int | None = None) -> types.SimpleNamespace:
            if version is None:
                return ns(**self.answer(handle, "nvmlDeviceGetMemoryInfo"))
            assert version == MEMORY_V2
            return ns(**self.answer(handle, "nvmlDeviceGetMemoryInfo_v2"))

        def mig_handle(handle: str, slot: int) -> str:
            slots = self.devices[handle]["mig_slots"]
            if slot >= len(slots):
                raise FakeNVMLError(6)
            return str(slots[slot])

        functions = {
            "nvmlInit": init,
            "nvmlShutdown": shutdown,
            "nvmlSystemGetDriverVersion": lambda: self.driver,
            "nvmlDeviceGetCount": lambda: len(top),
            "nvmlDeviceGetHandleByIndex": handle_by_index,
            "nvmlDeviceGetName": lambda h: self.answer(h, "nvmlDeviceGetName"),
            "nvmlDeviceGetUUID": lambda h: self.answer(h, "nvmlDeviceGetUUID"),
            "nvmlDeviceGetPciInfo": lambda h: ns(**self.answer(h, "nvmlDeviceGetPciInfo")),
            "nvmlDeviceGetMigMode": lambda h: self.answer(h, "nvmlDeviceGetMigMode"),
            "nvmlDeviceGetMaxMigDeviceCount": lambda h: self.answer(
                h, "nvmlDeviceGetMaxMigDeviceCount"
            ),
            "nvmlDeviceGetMigDeviceHandleByIndex": mig_handle,
            "nvmlDeviceGetGpuInstanceId": lambda h: self.answer(h, "nvmlDeviceGetGpuInstanceId"),
            "nvmlDeviceGetComputeInstanceId": lambda h: self.answer(
                h, "nvmlDeviceGetComputeInstanceId"
            ),
            "nvmlDeviceGetMemoryInfo": memory_info,
            "nvmlDeviceGetUtilizationRates": lambda h: ns(
                **self.answer(h, "nvmlDeviceGetUtilizationRates")
            ),
            "nvmlDeviceGetTemperature": lambda h, s: self.answer(h, "nvmlDeviceGetTemperature", s),
            "nvmlDeviceGetPowerUsage": lambda h: self.answer(h, "nvmlDeviceGetPowerUsage"),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: self.answer(
                h, "nvmlDeviceGetTotalEnergyConsumption"
            ),
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: self.answer(
                h, "nvmlDeviceGetEnforcedPowerLimit"
            ),
            "nvmlDeviceGetClockInfo": lambda h, c: self.answer(h, "nvmlDeviceGetClockInfo", c),
            "nvmlDeviceGetTotalEccErrors": lambda h, e, c: self.answer(
                h, "nvmlDeviceGetTotalEccErrors", e
            ),
            "nvmlDeviceGetEncoderUtilization": lambda h: self.answer(
                h, "nvmlDeviceGetEncoderUtilization"
            ),
            "nvmlDeviceGetComputeRunningProcesses": lambda h: self.processes(
                h, "nvmlDeviceGetComputeRunningProcesses"
            ),
            "nvmlDeviceGetGraphicsRunningProcesses": lambda h: self.processes(
                h, "nvmlDeviceGetGraphicsRunningProcesses"
            ),
            "nvmlDeviceGetComputeRunningProcesses_v2": lambda h: self.processes(
                h, "nvmlDeviceGetComputeRunningProcesses_v2"
            ),
            "nvmlDeviceGetGraphicsRunningProcesses_v2": lambda h: self.processes(
                h, "nvmlDeviceGetGraphicsRunningProcesses_v2"
            ),
        }
        for name, function in functions.items():
            setattr(nvml, name, function)
        constants = {
            "NVMLError": FakeNVMLError,
            "NVML_TEMPERATURE_GPU": 0,
            "NVML_CLOCK_GRAPHICS": 0,
            "NVML_CLOCK_SM": 1,
            "NVML_CLOCK_MEM": 2,
            "NVML_MEMORY_ERROR_TYPE_CORRECTED": 0,
            "NVML_MEMORY_ERROR_TYPE_UNCORRECTED": 1,
            "NVML_VOLATILE_ECC": 0,
            "NVML_DEVICE_MIG_ENABLE": 1,
            "nvmlMemory_v2": MEMORY_V2,
        }
        for name, value in constants.items():
            setattr(nvml, name, value)
        return nvml


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, child: subprocess.Popen[bytes]) -> FakeNvml:
    recording = json.loads((DATA / "nvml_h100.json").read_text())
    pids = {"SELF": os.getpid(), "CHILD": child.pid, "STRANGER": NO_SUCH_PID}
    fake = FakeNvml(recording, pids)
    monkeypatch.setitem(sys.modules, "pynvml", fake.module())
    return fake


def test_every_device_metric_of_a_whole_h100_recorded_h100(fake: FakeNvml) -> None:
    collector = NvidiaCollector()
    assert collector.probe().present

    values = collector.sample()

    assert values["gpu.0.gpu"] == 87.0
    assert values["gpu.0.memory"] == 41.0
    assert values["gpu.0.memoryAllocatedBytes"] == USED_V2  # _v2: reserved is not used
    assert values["gpu.0.memoryAllocated"] == pytest.approx(USED_V2 / H100_TOTAL * 100)
    assert values["gpu.0.temp"] == 52.0
    assert values["gpu.0.powerWatts"] == pytest.approx(512.345)
    assert values["gpu.0.powerPercent"] == pytest.approx(512.345 / 700 * 100)
    assert values["gpu.0.smClock"] == 1980.0
    assert values["gpu.0.memoryClock"] == 2619.0
    assert values["gpu.0.graphicsClock"] == 1980.0
    assert values["gpu.0.correctedMemoryErrors"] == 0.0
    assert values["gpu.0.unCorrectedMemoryErrors"] == 0.0
    assert "gpu.0.encoderUtilization" not in values  # H100 has no NVENC: Not Supported
    assert all(GPU_KEY.fullmatch(key) for key in values)
    collector.close()
    assert fake.shutdowns == fake.inits == 1


def test_mig_slices_are_devices_of_their_own_recorded_h100(fake: FakeNvml) -> None:
    collector = NvidiaCollector()
    assert collector.probe().present

    values = collector.sample()

    # GPU 1 (MIG parent) keeps board-wide readings; its slices are gpu.2 and gpu.3.
    assert values["gpu.1.temp"] == 41.0
    assert values["gpu.1.correctedMemoryErrors"] == 2.0
    assert "gpu.1.gpu" not in values  # utilisation is not supported in MIG mode
    assert values["gpu.2.memoryAllocatedBytes"] == 37748736.0
    assert values["gpu.3.memoryAllocated"] == pytest.approx(13472100352 / 42144366592 * 100)
    assert not any(key.startswith(("gpu.2.temp", "gpu.3.powerWatts")) for key in values)
    devices = collector.info()["devices"]
    assert isinstance(devices, list) and len(devices) == 4
    assert devices[0]["pci_bus_id"] == "00000000:18:00.0"
    assert devices[1]["mig"] is True
    assert devices[3]["name"] == "NVIDIA H100 80GB HBM3 MIG 3g.40gb"
    assert devices[3]["uuid"].startswith("MIG-")
    assert devices[3]["mig_parent"] == 1 and devices[3]["gpu_instance_id"] == 2
    # The recording has no total-energy reading (it predates the ledger): the
    # fake answers Function Not Found for it, as a driver without the call does.
    assert devices[0]["unsupported"] == {
        "encoderUtilization": "Not Supported",
        "energyJoules": "Function Not Found",
    }
    collector.close()


def test_a_metric_that_fails_once_is_not_asked_again_recorded_h100(fake: FakeNvml) -> None:
    collector = NvidiaCollector()
    assert collector.probe().present
    collector.sample()
    fake.devices["gpu0"]["nvmlDeviceGetTemperature"] = {"error": 999}

    with pytest.warns(RuntimeWarning, match="gpu.0 temp: stopped"):  # it worked before
        second = collector.sample()
    third = collector.sample()

    assert "gpu.0.temp" not in second and "gpu.0.temp" not in third
    assert third["gpu.0.gpu"] == 87.0 and third["gpu.1.temp"] == 41.0  # the rest goes on
    assert fake.calls[("gpu0", "nvmlDeviceGetTemperature")] == 2
    assert fake.calls[("gpu0", "nvmlDeviceGetEncoderUtilization")] == 1
    assert fake.calls[("gpu1/mig0", "nvmlDeviceGetUtilizationRates")] == 1
    collector.close()


def test_process_view_follows_the_process_tree_recorded_h100(fake: FakeNvml) -> None:
    session = NvmlSession()
    devices = NvidiaCollector(session)
    processes = NvidiaProcessCollector(session, os.getpid())
    assert devices.probe().present and processes.probe().present
    assert processes.slow and not devices.slow

    before = devices.sample()
    owned = processes.sample()
    after = devices.sample()

    assert not any(key.startswith("gpu.process.") for key in before)
    # This process and its child hold 12 GiB + 2 GiB on GPU 0; the stranger is not counted.
    assert owned == {"gpu.process.0.processMemoryBytes": float(12884901888 + 2147483648)}
    assert after["gpu.process.0.gpu"] == 87.0
    assert after["gpu.process.0.temp"] == after["gpu.0.temp"]
    assert not any(key.startswith(("gpu.process.1.", "gpu.process.3.")) for key in after)
    assert all(GPU_KEY.fullmatch(key) for key in after)
    # The fast collector never lists processes.
    listed = {call for (_, call) in fake.calls if "RunningProcesses" in call}
    assert listed and fake.calls[("gpu0", "nvmlDeviceGetComputeRunningProcesses")] == 1
    processes.close()
    devices.close()
    assert fake.inits == 1 and fake.shutdowns == 1  # one NVML session for both


def test_foreign_pid_namespace_is_reported_once_recorded_h100(fake: FakeNvml) -> None:
    fake.pids.update(SELF=NO_SUCH_PID - 1, CHILD=NO_SUCH_PID - 2)
    session = NvmlSession()
    processes = NvidiaProcessCollector(session, os.getpid())
    assert processes.probe().present

    with pytest.warns(RuntimeWarning, match="PID namespace"):
        assert processes.sample() == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        processes.sample()  # no second warning
    processes.close()


def test_no_driver_is_a_reason_not_an_error(fake: FakeNvml) -> None:
    fake.init_error = 9
    probe = NvidiaCollector().probe()
    assert not probe.present and probe.reason == "no NVIDIA driver (Driver Not Loaded)"


def test_missing_library_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    probe = NvidiaCollector().probe()
    assert probe == type(probe)(False, "nvidia-ml-py not installed")


def test_sampler_merges_process_view_without_waiting_recorded_h100(fake: FakeNvml) -> None:
    session = NvmlSession()
    config = SamplerConfig(interval=0.1, slow_interval=0.2)
    samples: list[dict[str, float]] = []
    sampler = Sampler(
        [NvidiaCollector(session), NvidiaProcessCollector(session, os.getpid())],
        config,
        [lambda t, values: samples.append(values)],
    )
    sampler.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            "gpu.process.0.processMemoryBytes" in s for s in samples
        ):
            time.sleep(0.05)
    finally:
        sampler.stop()
    assert any("gpu.process.0.processMemoryBytes" in s for s in samples)
    assert any("gpu.process.0.gpu" in s for s in samples)
    assert sampler.status()["disabled"] == {}
    assert fake.shutdowns == 1


def test_memory_info_v2_where_the_driver_has_it_else_v1_recorded_h100(fake: FakeNvml) -> None:
    collector = NvidiaCollector()
    assert collector.probe().present
    first, second = collector.sample(), collector.sample()
    collector.close()
    assert first["gpu.0.memoryAllocatedBytes"] == second["gpu.0.memoryAllocatedBytes"] == USED_V2
    # The MIG slices answer FUNCTION_NOT_FOUND for _v2: v1, and _v2 is not asked again.
    assert second["gpu.2.memoryAllocatedBytes"] == 37748736.0
    assert fake.calls[("gpu1/mig0", "nvmlDeviceGetMemoryInfo_v2")] == 1
    assert fake.calls[("gpu0", "nvmlDeviceGetMemoryInfo")] == 1  # _describe's total only


def test_gpu_lost_at_probe_leaves_the_healthy_one_recorded_h100(fake: FakeNvml) -> None:
    fake.handle_errors[0] = GPU_IS_LOST
    collector = NvidiaCollector()
    with pytest.warns(RuntimeWarning, match="NVML GPU 0 left out: GPU is lost"):
        assert collector.probe().present
    values = collector.sample()
    devices = collector.info()["devices"]
    problems = collector.problems()
    collector.close()
    assert isinstance(devices, list) and [d["nvml_index"] for d in devices] == [1, 1, 1]
    assert values["gpu.0.temp"] == 41.0  # the healthy GPU 1, first in the list now
    assert problems == {"NVML GPU 0 left out": "GPU is lost"}


def test_every_gpu_lost_at_probe_is_a_reason_recorded_h100(fake: FakeNvml) -> None:
    fake.handle_errors.update({0: GPU_IS_LOST, 1: GPU_IS_LOST})
    with pytest.warns(RuntimeWarning):
        probe = NvidiaCollector().probe()
    assert not probe.present and "GPU is lost" in probe.reason


# Once GPU 0 is lost only the recording's stranger (a pid that does not exist
# here) is listed: the PID-namespace hint is expected then.
@pytest.mark.filterwarnings("ignore:.*PID namespace")
def test_gpu_lost_mid_run_warns_and_the_other_goes_on_recorded_h100(fake: FakeNvml) -> None:
    session = NvmlSession()
    samples: list[dict[str, float]] = []
    sampler = Sampler(
        [NvidiaCollector(session), NvidiaProcessCollector(session, os.getpid())],
        SamplerConfig(interval=0.1, slow_interval=0.2),
        [lambda t, values: samples.append(values)],
    )
    sampler.start()
    try:
        assert samples[0]["gpu.0.temp"] == 52.0
        fake.lost.add("gpu0")
        with pytest.warns(RuntimeWarning, match="gpu.0 lost: GPU is lost"):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not sampler.status()["problems"]:
                time.sleep(0.05)
        calls = sum(n for (handle, _), n in fake.calls.items() if handle == "gpu0")
        time.sleep(0.5)
        later = samples[-1]
        status = sampler.status()
    finally:
        sampler.stop()
    assert status["problems"] == {
        "nvidia: gpu.0 lost": "GPU is lost; its readings stop, the others go on"
    }
    assert status["disabled"] == {}
    assert not any(key.startswith(("gpu.0.", "gpu.process.0.")) for key in later)
    assert later["gpu.1.temp"] == 41.0 and later["gpu.3.memoryAllocatedBytes"] == 13472100352.0
    # Not asked again once lost (one in-flight call at most).
    assert sum(n for (handle, _), n in fake.calls.items() if handle == "gpu0") <= calls + 1


def test_a_reading_that_worked_then_fails_is_a_warning_recorded_h100(fake: FakeNvml) -> None:
    collector = NvidiaCollector()
    assert collector.probe().present
    collector.sample()
    fake.devices["gpu0"]["nvmlDeviceGetTemperature"] = {"error": 999}
    with pytest.warns(RuntimeWarning, match="gpu.0 temp: stopped: Unknown Error"):
        collector.sample()
    assert collector.problems() == {"gpu.0 temp": "stopped: Unknown Error"}
    collector.close()


def test_mig_process_memory_counts_once_recorded_h100(fake: FakeNvml) -> None:
    """NVML lists a process on its MIG slice and again on the parent GPU."""
    mine = {"pid": "SELF", "usedGpuMemory": 8589934592, "gpuInstanceId": 2, "computeInstanceId": 0}
    fake.devices["gpu1"]["nvmlDeviceGetComputeRunningProcesses"] = [mine]
    fake.devices["gpu1/mig1"]["nvmlDeviceGetComputeRunningProcesses"] = [mine]
    session = NvmlSession()
    devices = NvidiaCollector(session)
    processes = NvidiaProcessCollector(session, os.getpid())
    assert devices.probe().present and processes.probe().present

    owned = processes.sample()
    after = devices.sample()
    processes.close()
    devices.close()

    assert owned == {
        "gpu.process.0.processMemoryBytes": float(12884901888 + 2147483648),
        "gpu.process.3.processMemoryBytes": 8589934592.0,  # on the slice, once
    }
    assert fake.calls[("gpu1", "nvmlDeviceGetComputeRunningProcesses")] == 0
    # The parent's board-wide readings concern the process too.
    assert after["gpu.process.1.temp"] == 41.0
    assert "gpu.process.2.temp" not in after


def test_process_lists_fall_back_from_v3_on_older_drivers_recorded_h100(fake: FakeNvml) -> None:
    fake.no_v3 = True
    session = NvmlSession()
    processes = NvidiaProcessCollector(session, os.getpid())
    assert processes.probe().present
    first, second = processes.sample(), processes.sample()
    processes.close()
    assert first == second == {"gpu.process.0.processMemoryBytes": float(12884901888 + 2147483648)}
    assert fake.calls[("gpu0", "nvmlDeviceGetComputeRunningProcesses")] == 1  # not asked again
    assert fake.calls[("gpu0", "nvmlDeviceGetComputeRunningProcesses_v2")] == 2
