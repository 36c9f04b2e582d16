"""The catalogue gives every key of spec/metrics.csv its unit and a panel."""

from __future__ import annotations

import csv
from pathlib import Path

from labdeck.backend.catalogue import describe

DATA = Path(__file__).parent.parent / "data"


def test_every_catalogue_key_has_its_unit() -> None:
    with open(DATA / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["source"] in ("psutil", "nvml")]
    for row in rows:
        key = row["key"]
        if "{metric}" in key:
            continue
        concrete = key.replace("{i}", "0").replace("{path}", "/")
        assert describe(concrete).unit == row["unit"], key


def test_groups() -> None:
    assert describe("gpu.1.temp").panel == "GPU 1 (celsius)"
    assert describe("gpu.process.0.processMemoryBytes").group == "GPU 0 process"
    assert describe("proc.memory.rssMB").panel == "Memory (MB)"
    assert describe('openmetrics.vllm.requests{a="1"}').group == "OpenMetrics"
