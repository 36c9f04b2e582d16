"""Host collector on this machine: real processes, real /proc, compared with psutil."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from labdeck.kernel.collectors import host
from labdeck.kernel.collectors.base import SamplerConfig
from labdeck.kernel.collectors.host import HostCollector
from labdeck.kernel.collectors.proctree import parse_stat

SPEC = Path(__file__).parent.parent / "data" / "metrics.csv"
LINUX = sys.platform.startswith("linux")
BURN_AND_HOLD = (
    "import sys\n"
    "held = bytearray(b'\\x01') * (200 * 1024 * 1024)\n"  # every page written: resident
    "print('ready', flush=True)\n"
    "while True:\n"
    "    pass\n"
)


def _psutil_patterns() -> list[re.Pattern[str]]:
    """The key templates metrics.csv gives for the psutil source, as regexes."""
    with SPEC.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["source"] == "psutil"]
    patterns = []
    for row in rows:
        template = re.escape(row["key"]).replace(r"\{i\}", r"\d+").replace(r"\{path\}", r".+")
        patterns.append(re.compile(template))
    return patterns


def _collector(procfs: bool | None = None, **config: object) -> HostCollector:
    collector = HostCollector(SamplerConfig(**config), procfs=procfs)  # type: ignore[arg-type]
    probe = collector.probe()
    assert probe.present, probe.reason
    return collector


@pytest.fixture
def burner() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", BURN_AND_HOLD], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def test_keys_are_those_of_metrics_csv() -> None:
    collector = _collector()
    try:
        collector.sample()
        values = collector.sample()
    finally:
        collector.close()
    patterns = _psutil_patterns()
    assert all(any(p.fullmatch(key) for p in patterns) for key in values), values
    expected = {
        "cpu",
        "proc.cpu.threads",
        "disk./.usagePercent",
        "disk./.usageGB",
        "disk.in",
        "disk.out",
        "proc.memory.rssMB",
        "proc.memory.percent",
        "memory",
        "proc.memory.availableMB",
        "network.sent",
        "network.recv",
    }
    assert expected <= set(values)
    assert sum(1 for key in values if re.fullmatch(r"cpu\.\d+\.cpu_percent", key)) == len(
        psutil.cpu_times(percpu=True)
    )


def test_first_sample_has_no_rates_and_counters_start_at_zero() -> None:
    collector = _collector()
    try:
        first = collector.sample()
    finally:
        collector.close()
    assert "cpu" not in first and not any(k.startswith("cpu.") for k in first)
    assert 0 <= first["network.sent"] < 10_000_000 and 0 <= first["disk.in"] < 100
    assert first["proc.memory.rssMB"] > 1 and first["proc.cpu.threads"] >= 1


@pytest.mark.skipif(not LINUX, reason="the /proc reader exists on Linux only")
def test_procfs_reader_agrees_with_psutil() -> None:
    fast, portable = _collector(procfs=True), _collector(procfs=False)
    try:
        fast_system, portable_system = fast._system, portable._system
        assert fast_system is not None and portable_system is not None
        disk = portable_system.disk_io()
        assert fast_system.disk_io() == pytest.approx(disk, rel=0.01, abs=1_000_000)
        sent, recv = fast_system.net_io()
        counters = psutil.net_io_counters()
        assert abs(sent - counters.bytes_sent) < 1_000_000
        assert abs(recv - counters.bytes_recv) < 1_000_000
        total, available = fast_system.memory()
        memory = psutil.virtual_memory()
        assert total == memory.total and abs(available - memory.available) < 64 * 1024**2
        assert [core for core, _, _ in fast_system.per_cpu()] == list(
            range(len(psutil.cpu_times(percpu=True)))
        )
        a, b = fast.sample(), portable.sample()
        assert a["proc.cpu.threads"] == b["proc.cpu.threads"]
        assert a["proc.memory.rssMB"] == pytest.approx(b["proc.memory.rssMB"], rel=0.1)
        assert a["disk./.usageGB"] == pytest.approx(b["disk./.usageGB"], rel=0.01)
    finally:
        fast.close()
        portable.close()


@pytest.mark.parametrize("procfs", [True, False] if LINUX else [False])
def test_child_process_counts_in_cpu_and_memory(
    burner: subprocess.Popen[str], procfs: bool
) -> None:
    collector = _collector(procfs=procfs)
    child = psutil.Process(burner.pid)
    try:
        alone = psutil.Process().memory_info().rss / 1024**2
        before = sum(child.cpu_times()[:2])
        collector.sample()
        started = time.monotonic()
        time.sleep(0.6)
        values = collector.sample()
        elapsed = time.monotonic() - started
        burnt = sum(child.cpu_times()[:2]) - before
    finally:
        collector.close()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # The child burns what CPU a busy machine leaves it; all of that must be in `cpu`.
    child_share = burnt / elapsed / (usable or 1) * 100
    assert child_share > 5
    assert values["cpu"] >= 0.8 * child_share
    assert values["proc.memory.rssMB"] > alone + 190
    assert values["proc.cpu.threads"] >= 2


def test_children_appear_and_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "TREE_REFRESH_S", 0.0)
    collector = _collector()
    try:
        before = collector.sample()["proc.cpu.threads"]
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            deadline = time.monotonic() + 5
            during = before
            while during <= before and time.monotonic() < deadline:
                time.sleep(0.05)
                during = collector.sample()["proc.cpu.threads"]
        finally:
            child.kill()
            child.wait()
        after = collector.sample()["proc.cpu.threads"]
    finally:
        collector.close()
    assert during >= before + 1
    assert after <= during - 1


def test_missing_disk_path_is_skipped(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone")
    collector = _collector(disk_paths=["/", missing])
    try:
        values = collector.sample()
        info = collector.info()
    finally:
        collector.close()
    assert "disk./.usagePercent" in values
    assert not any(missing in key for key in values)
    skipped = info["skipped_disk_paths"]
    assert isinstance(skipped, dict) and missing in skipped


def test_a_process_that_does_not_exist_is_absent() -> None:
    probe = HostCollector(SamplerConfig(pid=4_194_399)).probe()
    assert not probe.present and "4194399" in probe.reason


def test_parse_stat_with_a_hostile_command_name() -> None:
    line = b"4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 31 0 0 20 0 7 0 99 1 512 "
    state, ppid, ticks, threads, rss = parse_stat(line + b"18446744073709551615 1 1 0 0 0")
    assert (state, ppid, ticks, threads, rss) == (b"S", 17, 281, 7, 512)
