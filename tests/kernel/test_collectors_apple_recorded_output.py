"""Apple collector against recorded `ioreg -a` and `powermetrics -f plist` output (M2 Pro)."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from labdeck.kernel.collectors.apple import (
    IOREG,
    POWERMETRICS,
    AppleCollector,
    parse_ioreg,
    parse_powermetrics,
)

DATA = Path(__file__).parent.parent / "data"
MEMORY_TOTAL = 32 * 1024**3
APPLE_KEY = re.compile(r"gpu\.0\.(gpu|memoryAllocated|temp|powerWatts|powerPercent)")


def test_ioreg_recorded_output() -> None:
    values = parse_ioreg((DATA / "ioreg_accelerator.plist").read_bytes(), MEMORY_TOTAL)

    assert values == {
        "gpu.0.gpu": 37.0,
        "gpu.0.memoryAllocated": pytest.approx(2831155200 / MEMORY_TOTAL * 100),
    }


def test_powermetrics_recorded_output() -> None:
    values = parse_powermetrics((DATA / "powermetrics.plist").read_bytes())

    # 3412 mJ over 1.004 s of sampling.
    assert values["gpu.0.powerWatts"] == pytest.approx(3412 / 1.004221875 / 1000)
    assert values["gpu.0.gpu"] == pytest.approx((1 - 0.6309) * 100)


def test_sample_prefers_ioreg_utilisation_and_adds_power_recorded_output() -> None:
    recorded: dict[tuple[str, ...], bytes] = {
        IOREG: (DATA / "ioreg_accelerator.plist").read_bytes(),
        POWERMETRICS: (DATA / "powermetrics.plist").read_bytes(),
    }
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> bytes:
        calls.append(tuple(argv))
        return recorded[tuple(argv)]

    collector = AppleCollector(run=run, powermetrics=True, memory_total=MEMORY_TOTAL)
    values = collector.sample()

    assert collector.slow
    assert values["gpu.0.gpu"] == 37.0
    assert "gpu.0.powerWatts" in values
    assert all(APPLE_KEY.fullmatch(key) for key in values)
    assert set(calls) == {IOREG, POWERMETRICS}

    without_root = AppleCollector(run=run, powermetrics=False, memory_total=MEMORY_TOTAL)
    assert set(without_root.sample()) == {"gpu.0.gpu", "gpu.0.memoryAllocated"}


def test_absent_off_macos() -> None:
    if sys.platform == "darwin":  # pragma: no cover
        pytest.skip("running on a Mac")
    probe = AppleCollector().probe()
    assert not probe.present and "Apple Silicon" in probe.reason
