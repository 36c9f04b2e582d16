"""The per-cell ledger's GPU figures (F-SM-12) from the real NVIDIA collector
over a fake `pynvml` answering with the recorded H100 readings
(tests/data/nvml_h100.json; the fake of test_nvidia_fake_nvml_recorded_h100):
GPU 0 counts its energy (NVML's total-energy counter, made to advance here),
GPU 1 (a MIG parent) does not, so its energy is its power integrated over the
cell and marked estimated; MIG slices have neither."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from test_nvidia_fake_nvml_recorded_h100 import DATA, NO_SUCH_PID, USED_V2, FakeNvml

from labdeck.kernel.collectors.nvidia import NvidiaCollector
from labdeck.kernel.ledger import CellLedger

JOULES_PER_SAMPLE = 500.0  # GPU 0's counter advances by this between samples


class CountingEnergy(FakeNvml):
    """The recording, with GPU 0's total-energy counter advancing per read."""

    def __init__(self, recording: dict[str, Any], pids: dict[str, int]) -> None:
        super().__init__(recording, pids)
        self.energy_mj = 9_000_000_000  # since the driver loaded: not the cell's

    def answer(self, handle: str, call: str, *key: object) -> Any:
        if handle == "gpu0" and call == "nvmlDeviceGetTotalEnergyConsumption":
            self.calls[(handle, call)] += 1
            self.energy_mj += int(JOULES_PER_SAMPLE * 1000)
            return self.energy_mj
        return super().answer(handle, call, *key)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingEnergy]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    recording = json.loads((DATA / "nvml_h100.json").read_text())
    pids = {"SELF": os.getpid(), "CHILD": child.pid, "STRANGER": NO_SUCH_PID}
    fake = CountingEnergy(recording, pids)
    monkeypatch.setitem(sys.modules, "pynvml", fake.module())
    yield fake
    child.kill()
    child.wait()


def test_gpu_figures_of_a_cell_fake_nvml(fake: CountingEnergy) -> None:
    collector = NvidiaCollector()
    assert collector.probe().present
    ledger = CellLedger()
    rows: list[dict[str, Any]] = []
    t0 = 1_000_000.0
    first = collector.sample()
    assert first["gpu.0.energyJoules"] == 0.0  # counted from the first sample
    ledger(t0, first)
    token = ledger.open(t0 + 0.5)
    for k in (1, 2):
        ledger(t0 + k, collector.sample())
    ledger.close(token, t0 + 2.5, rows.append)
    assert rows == []  # waits for a sample at or after its end
    ledger(t0 + 3, collector.sample())
    collector.close()

    assert len(rows) == 1
    gpus = {g["index"]: g for g in rows[0]["gpus"]}
    assert sorted(gpus) == [0, 1, 2, 3]
    # GPU 0: the counter read at 0.5 s and 2.5 s (interpolated): 2 s x 500 J/s.
    assert gpus[0]["energy_j"] == pytest.approx(2 * JOULES_PER_SAMPLE)
    assert gpus[0]["energy_estimated"] is False
    assert gpus[0]["memory_peak_bytes"] == USED_V2
    assert gpus[0]["util_mean"] == 87.0
    # GPU 1 has no counter: its recorded 221.034 W over the cell's 2 s, estimated.
    assert gpus[1]["energy_j"] == pytest.approx(221.034 * 2.0)
    assert gpus[1]["energy_estimated"] is True
    assert gpus[1]["util_mean"] is None  # no utilisation in MIG mode
    # MIG slices: memory only.
    assert gpus[2]["memory_peak_bytes"] == 37748736
    assert gpus[2]["energy_j"] is None and gpus[2]["util_mean"] is None
