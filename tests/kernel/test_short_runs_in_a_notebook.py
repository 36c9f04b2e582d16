"""Short runs draw something (issue 13, item 2), in a real kernel through
nbclient: `%%labdeck` around a 1 s cell under the default 10 s interval
records at least two points of EVERY key (a baseline at start, a full
sample <= 0.5 s later, the closing sample at stop), and the closing sample
is taken after the cell's work ended."""

from __future__ import annotations

from pathlib import Path

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, markers, metrics
from notebooks import run_notebook

CELLS = [
    "%load_ext labdeck",
    "%%labdeck --project short --no-chart\nimport time; time.sleep(1)",
    "m = get_ipython().magics_manager.registry['LabdeckMagics'].monitor\n"
    "print(f'run={m.run_id} interval={m.interval}')",
]


def test_a_one_second_cell_has_two_points_of_every_key(kernel_db: str, tmp_path: Path) -> None:
    # The default interval, 10 s.
    nb = run_notebook(CELLS, tmp_path, kernel_db, unset=["LABDECK_SAMPLE_INTERVAL"])
    printed = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    run_id = printed.split("run=")[1].split()[0]
    assert "interval=10.0" in printed
    backend = Backend.open(kernel_db)
    me = identity.actor_for(backend, identity.server_owner())
    series = metrics.read_series(backend, me, run_id)["series"]
    assert {"cpu", "proc.memory.rssMB", "memory"} <= set(series)
    few = {key: len(s["t"]) for key, s in series.items() if len(s["t"]) < 2}
    assert few == {}, f"keys with fewer than two points: {few}"
    # The closing sample: the last point of `cpu` comes after the cell's end.
    (cell,) = markers.list_markers(backend, me, run_id)
    assert max(series["cpu"]["t"]) >= cell["end_t"] - 0.05, (series["cpu"]["t"], cell)
    assert cell["end_t"] - cell["start_t"] >= 1.0
