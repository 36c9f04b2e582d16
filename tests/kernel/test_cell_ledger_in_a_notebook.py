"""The per-cell ledger in a real kernel, through nbclient (F-SM-12): a 2 s
single-core burn is charged 2 CPU-seconds (within 15 %, against the
process's own CPU clock read in the cell), a 300 MB allocation shows in the
cell's RSS, a sleeping cell is charged what the process spent meanwhile
(the monitor's own threads, a preloading thread: the ledger charges the
process tree, labdeck included), and `run.cells()` answers what
`GET /runs/{id}/cells` serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, markers, runs
from notebooks import errors, printed, run_notebook

MB = 2**20
BURN = (
    "import os, time\n"
    "before = sum(os.times()[:2])  # the process's CPU clock, all its threads\n"
    "w0 = time.time()\n"
    "t0 = time.process_time()\n"
    "while time.process_time() - t0 < 2.0: pass\n"
    "print(f'burned={sum(os.times()[:2]) - before}')\n"
    "print(f'wall={time.time() - w0}')"
)
CELLS = [
    "%load_ext labdeck",
    # `%load_ext` imports Plotly on a thread of its own (seconds of CPU, the
    # process's too): done before the monitored cells, so they are charged
    # only what they spend.
    "get_ipython().magics_manager.registry['LabdeckMagics'].preparation.wait()",
    "%labdeck start --project ledger --interval 0.25 --no-chart",
    BURN,
    "block = bytearray(b'\\x01') * (300 * 2**20)",
    "import time; time.sleep(1.0)  # charged what the process spent meanwhile\n"
    "before = sum(os.times()[:2])\n"
    "time.sleep(1.0)\n"
    "print(f'slept={sum(os.times()[:2]) - before}')",
    "%labdeck stop",
    "m = get_ipython().magics_manager.registry['LabdeckMagics'].monitor\n"
    "rows = m.run.cells()\n"
    "print(f'run={m.run_id} rows={len(rows)} cpu={rows[0][\"cpu_seconds\"]}')",
]


def test_ledger_of_a_burn_an_allocation_and_a_sleep(kernel_db: str, tmp_path: Path) -> None:
    nb = run_notebook(CELLS, tmp_path, kernel_db)
    assert errors(nb) == []

    backend = Backend.open(kernel_db)
    me = identity.actor_for(backend, identity.server_owner())
    run = runs.list_runs(backend, me, identity.server_owner(), "ledger")["items"][-1]
    rows = markers.list_cells(backend, me, run["id"])
    by_line = {r["first_line"]: r for r in rows}
    shown = {c.source.splitlines()[0]: c.execution_count for c in nb.cells}
    assert [r["execution_count"] for r in rows] == [shown[line] for line in by_line]

    burn = by_line["import os, time"]
    burned = float(printed(nb, "burned="))  # the process's CPU clock, all threads
    assert burned == pytest.approx(2.0, rel=0.15)
    assert burn["cpu_seconds"] == pytest.approx(2.0, rel=0.15), burn
    assert burn["cpu_seconds"] == pytest.approx(burned, rel=0.15), (burn, burned)
    assert burn["duration_s"] == pytest.approx(burn["end_t"] - burn["start_t"])
    # The cell's duration covers the wall time the cell itself measured (the
    # process clock counts labdeck's threads too, so 2 CPU-s may take < 2 s).
    assert burn["duration_s"] >= float(printed(nb, "wall="))

    block = by_line["block = bytearray(b'\\x01') * (300 * 2**20)"]
    assert block["rss_delta_bytes"] >= 250 * MB, block
    assert block["rss_peak_bytes"] >= block["rss_delta_bytes"]

    sleep = by_line["import time; time.sleep(1.0)  # charged what the process spent meanwhile"]
    # The cell reads the process's clock over its second half: the ledger's
    # figure for the whole cell is at least that, and at most twice it plus
    # a sample's interpolation at each end (0.25 s at most, at one core).
    second_half = float(printed(nb, "slept="))
    assert second_half - 0.25 <= sleep["cpu_seconds"] <= 2 * second_half + 0.5, (
        sleep,
        second_half,
    )
    assert sleep["cpu_seconds"] < sleep["duration_s"]
    assert abs(sleep["rss_delta_bytes"]) < 50 * MB
    for row in (burn, block, sleep):
        assert row["disk_read_bytes"] is not None and row["net_recv_bytes"] is not None
        assert row["gpus"] == []  # no GPU here (the fake-NVML test covers GPUs)

    # The stopping cell is closed after the monitor's last sample, figures too.
    stop = by_line["%labdeck stop"]
    assert stop["end_t"] is not None and stop["cpu_seconds"] is not None

    # run.cells() in the kernel, read after the stop: the same ledger.
    line = printed(nb, "run=")
    assert line.startswith(f"{run['id']} rows={len(rows)} ")
    assert float(line.rsplit("cpu=", 1)[1]) == burn["cpu_seconds"]
