"""How `CellLedger` reckons a row from samples (kernel/ledger.py), against
figures worked out by hand: counters interpolated at the cell's edges,
levels at the samples around them, a row waiting for the sample after its
end, `finish` at stop, and samples kept only while a cell needs them."""

from __future__ import annotations

from typing import Any

import pytest

from labdeck.kernel.ledger import MB, CellLedger


def sample(cpu: float, rss_mb: float, disk_mb: float = 0.0) -> dict[str, float]:
    return {"proc.cpu.seconds": cpu, "proc.memory.rssMB": rss_mb, "disk.out": disk_mb, "cpu": 1.0}


def test_counters_levels_and_waiting() -> None:
    ledger = CellLedger()
    rows: list[dict[str, Any]] = []
    ledger(0.0, sample(0.0, 100))
    token = ledger.open(0.5)  # cpu counter at 0.5: 0.5 (1 CPU-s per s until t=1)
    ledger(1.0, sample(1.0, 400))
    ledger(2.0, sample(3.0, 250, disk_mb=10))
    ledger.close(token, 2.5, rows.append)  # counter at 2.5: 3.0 + 0.5 * 2.0 = 4.0
    assert rows == []
    ledger(3.0, sample(5.0, 120, disk_mb=20))
    (row,) = rows
    assert row["cpu_seconds"] == pytest.approx(3.5)
    assert row["disk_write_bytes"] == int(15 * MB)  # 0 at 0.5, 15 MB at 2.5
    # Levels: the sample at or before the start (t=0: 100 MB), the first at or
    # after the end (t=3: 120 MB); the peak in between is t=1's 400 MB.
    assert row["rss_peak_bytes"] == int(400 * MB)
    assert row["rss_delta_bytes"] == int(20 * MB)
    assert row["disk_read_bytes"] is None and row["gpus"] == []  # not sampled


def test_finish_reckons_what_waits_and_samples_are_pruned() -> None:
    ledger = CellLedger()
    rows: list[dict[str, Any]] = []
    for t in range(100):
        ledger(float(t), sample(float(t), 100))
    assert all(len(s.t) == 1 for s in ledger._samples.values())  # no cell: the last only
    token = ledger.open(100.5)
    for t in range(101, 104):
        ledger(float(t), sample(float(t), 100))
    ledger.close(token, 103.5, rows.append)
    ledger.finish()  # the monitor stopped: no sample after 103.5 will come
    (row,) = rows
    assert row["cpu_seconds"] == pytest.approx(103.0 - 100.5)  # held at the last sample
    assert all(len(s.t) == 1 for s in ledger._samples.values())
    ledger.close(12345, 1.0, rows.append)  # an unknown cell: nothing
    assert len(rows) == 1


def test_the_kernels_own_readings_at_the_edges_win_over_late_samples() -> None:
    """With the kernel's own readings (`probe`, scripted here: what the
    process's CPU clock and RSS said at each call), the kernel's share is
    exact at the cell's edges; only the children's is taken from samples.
    The samples below were read late (the tree's CPU behind the clock, as
    when a burning cell holds the GIL), and a 300 MB block allocated before
    the cell is in the sample after its start: none of it is charged."""
    readings = iter(
        [
            (10.0, 500.0),  # the sample at t=0, as it arrives: no children
            (11.0, 800.0),  # open, t=0.5 (the block is allocated)
            (11.9, 800.0),  # the sample at t=1 (children: 0.5 CPU-s, 20 MB)
            (13.0, 800.0),  # close, t=2
            (13.1, 800.0),  # the sample at t=3 (children: 1.0 CPU-s, 20 MB)
        ]
    )
    ledger = CellLedger(lambda: next(readings))
    rows: list[dict[str, Any]] = []
    ledger(0.0, sample(10.0, 500))
    token = ledger.open(0.5)
    ledger(1.0, sample(12.4, 820))
    ledger.close(token, 2.0, rows.append)
    ledger(3.0, sample(14.1, 820))
    (row,) = rows
    # Own: 13.0 - 11.0 = 2.0; children: 0.25 at 0.5 (interpolated), 0.75 at 2.
    assert row["cpu_seconds"] == pytest.approx(2.5)
    # Own 800 MB at both edges, children 10 MB at 0.5 and 20 MB at 2:
    # +10 MB; the peak is the sample during the cell, 820 MB.
    assert row["rss_delta_bytes"] == int(10 * MB)
    assert row["rss_peak_bytes"] == int(820 * MB)
