"""AMD collector against recorded `rocm-smi -a --json` output and recorded amdsmi readings."""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from labdeck.kernel.collectors import amd
from labdeck.kernel.collectors.amd import AmdCollector, parse_rocm_smi

DATA = Path(__file__).parent.parent / "data"
AMD_KEY = re.compile(r"gpu\.\d+\.(gpu|memoryAllocated|temp|powerWatts|powerPercent)")


def test_rocm_smi_mi210_recorded_output() -> None:
    values = parse_rocm_smi(json.loads((DATA / "rocm_smi.json").read_text()))

    assert values["gpu.0.gpu"] == 78.0
    assert values["gpu.0.memoryAllocated"] == 44.0
    assert values["gpu.0.temp"] == 43.0  # the edge sensor comes first
    assert values["gpu.0.powerWatts"] == 187.0
    assert values["gpu.0.powerPercent"] == pytest.approx(187.0 / 300.0 * 100.0)
    assert values["gpu.1.gpu"] == 0.0
    assert values["gpu.1.powerWatts"] == 42.0
    assert not any(key.startswith("gpu.system") for key in values)
    assert all(AMD_KEY.fullmatch(key) for key in values)


def test_rocm_smi_mi300x_recorded_output() -> None:
    values = parse_rocm_smi(json.loads((DATA / "rocm_smi_mi300x.json").read_text()))

    # MI300X: no edge sensor ("N/A"), "Current Socket" power instead of "Average".
    assert values["gpu.0.temp"] == 61.0
    assert values["gpu.0.powerWatts"] == 512.0
    assert values["gpu.0.powerPercent"] == pytest.approx(512.0 / 750.0 * 100.0)
    assert values["gpu.0.memoryAllocated"] == 71.0


def test_rocm_smi_path_is_slow_and_runs_the_documented_command_recorded_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> bytes:
        calls.append(argv)
        return (DATA / "rocm_smi.json").read_bytes()

    monkeypatch.setattr(amd, "which", lambda tool: f"/opt/rocm/bin/{tool}")
    collector = AmdCollector(run=run, library=None)

    assert collector.probe().present
    assert collector.slow
    assert collector.sample()["gpu.0.gpu"] == 78.0
    assert calls[-1] == ("rocm-smi", "-a", "--json")


class _AmdSmiLibraryException(Exception):
    pass


def _fake_amdsmi(devices: list[dict[str, Any]]) -> types.ModuleType:
    """An amdsmi module at its boundary, answering with recorded readings."""
    module = types.ModuleType("fake_amdsmi")
    module.AmdSmiLibraryException = _AmdSmiLibraryException  # type: ignore[attr-defined]
    module.AmdSmiTemperatureType = types.SimpleNamespace(  # type: ignore[attr-defined]
        EDGE="EDGE", HOTSPOT="HOTSPOT", VRAM="VRAM"
    )
    module.AmdSmiTemperatureMetric = types.SimpleNamespace(CURRENT="CURRENT")  # type: ignore[attr-defined]
    module.shut_down = 0  # type: ignore[attr-defined]

    def temperature(handle: int, sensor: str, metric: str) -> int:
        value = devices[handle]["temperature"][sensor]
        if not isinstance(value, int):
            raise _AmdSmiLibraryException("AMDSMI_STATUS_NOT_SUPPORTED")
        return value

    def shut_down() -> None:
        module.shut_down += 1  # type: ignore[attr-defined]

    module.amdsmi_init = lambda: None  # type: ignore[attr-defined]
    module.amdsmi_shut_down = shut_down  # type: ignore[attr-defined]
    module.amdsmi_get_processor_handles = lambda: list(range(len(devices)))  # type: ignore[attr-defined]
    module.amdsmi_get_gpu_device_bdf = lambda h: devices[h]["bdf"]  # type: ignore[attr-defined]
    module.amdsmi_get_gpu_asic_info = lambda h: devices[h]["asic_info"]  # type: ignore[attr-defined]
    module.amdsmi_get_gpu_activity = lambda h: devices[h]["gpu_activity"]  # type: ignore[attr-defined]
    module.amdsmi_get_gpu_vram_usage = lambda h: devices[h]["vram_usage"]  # type: ignore[attr-defined]
    module.amdsmi_get_temp_metric = temperature  # type: ignore[attr-defined]
    module.amdsmi_get_power_info = lambda h: devices[h]["power_info"]  # type: ignore[attr-defined]
    return module


def test_amdsmi_library_recorded_output(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_amdsmi(json.loads((DATA / "amdsmi.json").read_text()))
    monkeypatch.setitem(sys.modules, "fake_amdsmi", fake)
    collector = AmdCollector(library="fake_amdsmi")

    assert collector.probe().present
    assert not collector.slow  # in-process library calls stay on the fast path
    values = collector.sample()

    assert values["gpu.0.gpu"] == 78.0
    assert values["gpu.0.memoryAllocated"] == pytest.approx(28829 / 65520 * 100)
    assert values["gpu.0.temp"] == 43.0
    assert values["gpu.0.powerPercent"] == pytest.approx(187 / 300 * 100)
    assert values["gpu.1.temp"] == 61.0  # MI300X: edge unsupported, hotspot used
    assert values["gpu.1.powerWatts"] == 512.0
    assert values["gpu.1.powerPercent"] == pytest.approx(512 / 750 * 100)  # limit given in uW
    assert all(AMD_KEY.fullmatch(key) for key in values)
    devices = collector.info()["devices"]
    assert isinstance(devices, list) and devices[1]["name"] == "AMD Instinct MI300X"

    collector.close()
    assert fake.shut_down == 1


def test_amdsmi_failing_reading_is_turned_off_for_that_device_recorded_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    devices = json.loads((DATA / "amdsmi.json").read_text())
    fake = _fake_amdsmi(devices)
    calls = {"n": 0}

    def activity(handle: int) -> dict[str, Any]:
        calls["n"] += 1
        if handle == 1:
            raise _AmdSmiLibraryException("AMDSMI_STATUS_NOT_SUPPORTED")
        return dict(devices[handle]["gpu_activity"])

    fake.amdsmi_get_gpu_activity = activity  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_amdsmi", fake)
    collector = AmdCollector(library="fake_amdsmi")
    assert collector.probe().present

    first, second = collector.sample(), collector.sample()

    assert "gpu.1.gpu" not in first and "gpu.1.gpu" not in second
    assert second["gpu.0.gpu"] == 78.0 and second["gpu.1.temp"] == 61.0
    assert calls["n"] == 3  # device 1 was asked once, device 0 twice


def test_absent_here_is_a_reason_not_an_error() -> None:
    probe = AmdCollector(library="labdeck_no_such_amdsmi").probe()
    if probe.present:  # pragma: no cover - only on a ROCm machine
        pytest.skip("rocm-smi is installed here")
    assert "rocm-smi" in probe.reason
