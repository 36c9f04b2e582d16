"""TPU collector against recorded `tpu-info` output and recorded `tpu_info` library results."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

from labdeck.kernel.collectors import tpu
from labdeck.kernel.collectors.tpu import TPU_INFO, TpuCollector, parse_tpu_info

DATA = Path(__file__).parent.parent / "data"
GIB = 1024**3
TPU_KEY = re.compile(r"tpu\.\d+\.(memoryUsageBytes|memoryUsage|dutyCycle)")


def test_metric_tables_recorded_output() -> None:
    values = parse_tpu_info((DATA / "tpu_info.txt").read_text())

    assert values["tpu.0.memoryUsageBytes"] == pytest.approx(29.50 * GIB)
    assert values["tpu.0.memoryUsage"] == pytest.approx(29.50 / 31.25 * 100)
    assert values["tpu.3.memoryUsageBytes"] == 0.0
    assert values["tpu.1.dutyCycle"] == pytest.approx(99.71)
    assert values["tpu.3.dutyCycle"] == pytest.approx(87.25)
    assert len(values) == 12
    assert all(TPU_KEY.fullmatch(key) for key in values)


def test_default_snapshot_recorded_output() -> None:
    values = parse_tpu_info((DATA / "tpu_info_default.txt").read_text())

    # Only the runtime table counts: chips by /dev path, latencies and
    # TensorCore utilisation are other tables.
    assert values["tpu.0.memoryUsageBytes"] == pytest.approx(18.45 * GIB)
    assert values["tpu.2.dutyCycle"] == 100.0
    assert len(values) == 12


def test_box_drawn_tables_of_older_releases_recorded_output() -> None:
    values = parse_tpu_info((DATA / "tpu_info_rich.txt").read_text())

    assert values == {
        "tpu.0.memoryUsageBytes": pytest.approx(7.21 * GIB),
        "tpu.0.memoryUsage": pytest.approx(7.21 / 31.75 * 100),
        "tpu.0.dutyCycle": pytest.approx(64.80),
        "tpu.1.memoryUsageBytes": pytest.approx(7.21 * GIB),
        "tpu.1.memoryUsage": pytest.approx(7.21 / 31.75 * 100),
        "tpu.1.dutyCycle": pytest.approx(63.95),
    }


def test_command_path_recorded_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "accel0").touch()
    monkeypatch.setattr(tpu, "which", lambda tool: "/usr/local/bin/tpu-info")
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> bytes:
        calls.append(argv)
        return (DATA / "tpu_info.txt").read_bytes()

    collector = TpuCollector(run=run, library=None, device_glob=str(tmp_path / "accel*"))
    assert collector.probe().present
    assert collector.sample()["tpu.2.memoryUsage"] == pytest.approx(21.5 / 31.25 * 100)
    assert calls == [TPU_INFO]

    def not_running(argv: Sequence[str]) -> bytes:
        raise RuntimeError("tpu-info exited with status 1: no TPU runtime metrics")

    idle = TpuCollector(run=not_running, library=None)
    assert idle.sample() == {}  # no workload yet is not a fault


class Usage(NamedTuple):
    device_id: int
    memory_usage: int
    total_memory: int
    duty_cycle_pct: float


RECORDED_USAGE = [
    Usage(0, 19810402304, 33550237696, 100.0),
    Usage(1, 11166914560, 33550237696, 98.5),
]


def test_tpu_info_library_recorded_output(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("fake_tpu_info")
    device = types.ModuleType("fake_tpu_info.device")
    metrics = types.ModuleType("fake_tpu_info.metrics")
    device.get_local_chips = lambda: ("TpuChip.V6E", 2)  # type: ignore[attr-defined]
    metrics.get_chip_usage = lambda chip_type: RECORDED_USAGE  # type: ignore[attr-defined]
    for name, module in (
        ("fake_tpu_info", package),
        ("fake_tpu_info.device", device),
        ("fake_tpu_info.metrics", metrics),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    grpc = types.ModuleType("grpc")
    grpc.RpcError = type("RpcError", (Exception,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grpc", grpc)

    collector = TpuCollector(library="fake_tpu_info")
    assert collector.probe().present
    values = collector.sample()

    assert values["tpu.0.memoryUsageBytes"] == 19810402304.0
    assert values["tpu.1.memoryUsage"] == pytest.approx(11166914560 / 33550237696 * 100)
    assert values["tpu.1.dutyCycle"] == 98.5
    assert collector.info()["chips"] == 2

    def down(chip_type: object) -> list[Usage]:
        raise grpc.RpcError("failed to connect to all addresses")

    metrics.get_chip_usage = down  # type: ignore[attr-defined]
    assert collector.sample() == {}
