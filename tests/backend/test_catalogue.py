"""The catalogue gives every key of tests/data/metrics.csv its unit and a panel."""

from __future__ import annotations

import csv
from pathlib import Path

from labdeck.backend.catalogue import KEYS, describe

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
    assert describe("proc.memory.rssMB").panel == "Process memory (MB)"
    assert describe('openmetrics.vllm.requests{a="1"}').group == "OpenMetrics"


def test_the_documented_keys_include_every_row_of_the_metrics_table() -> None:
    """`KEYS` (rendered as docs/metrics.md) holds every row of the table the
    collectors' tests use, word for word, and may hold more."""
    with open(DATA / "metrics.csv", newline="") as f:
        rows = {(r["key"], r["unit"], r["source"], r["meaning"]) for r in csv.DictReader(f)}
    documented = {(k.key, k.unit, k.source, k.meaning) for k in KEYS}
    assert rows <= documented, rows - documented


def test_describe_gives_each_documented_key_its_unit() -> None:
    checked = 0
    for key in KEYS:
        concrete = key.key.replace("{i}", "0").replace("{path}", "/")
        if "{" in concrete or key.unit in ("as above", "per metric", "as scraped"):
            continue
        assert describe(concrete).unit == key.unit, key.key
        checked += 1
    assert checked >= 40
