"""Cell markers in a real kernel, through nbclient: the bands carry the
prompt numbers the notebook shows (IPython 8 counts a cell after it ran,
IPython 9 before `pre_run_cell`), and `%%labdeck` around a 1 s cell records
at least two points of `cpu` (the baseline and closing samples).

IPython 9 is the test environment's; IPython 8 is taken from the base
interpreter's site-packages when it has one (this machine's has 8.12), laid
over the environment with PYTHONPATH, and the test says so when it skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, markers, metrics, runs
from notebooks import errors, printed, run_notebook

CELLS = [
    "%load_ext labdeck",
    "%labdeck start --project cells --interval 0.5 --no-chart",
    "x = 1",
    "y = sum(range(10**6))",
    "import time; time.sleep(0.3)",
    "%labdeck stop",
    "%%labdeck --project cells --no-chart\nimport time; time.sleep(1)",
    "m = get_ipython().magics_manager.registry['LabdeckMagics'].monitor\nprint(f'run={m.run_id}')",
    "import IPython; print(f'ipython={IPython.version_info[0]}')",
]


def _ipython8_overlay(tmp_path: Path) -> Path | None:
    """A folder holding IPython 8 and what it needs beyond this environment,
    from the base interpreter, or None when it has no IPython 8."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        return None
    probe = subprocess.run(
        [
            str(base),
            "-c",
            "import IPython, os; print(IPython.version_info[0]); "
            "print(os.path.dirname(os.path.dirname(IPython.__file__)))",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None
    major, site = probe.stdout.split()
    if major != "8":
        return None
    overlay = tmp_path / "ipython8"
    overlay.mkdir()
    for name in ("IPython", "backcall", "pickleshare.py", "decorator.py"):
        if (Path(site) / name).exists():
            (overlay / name).symlink_to(Path(site) / name)
    return overlay


@pytest.mark.parametrize("ipython", ["9", "8"])
def test_bands_carry_the_notebooks_prompt_numbers(
    ipython: str, kernel_db: str, tmp_path: Path
) -> None:
    overlay = None
    if ipython == "8":
        overlay = _ipython8_overlay(tmp_path)
        if overlay is None:
            pytest.skip("the base interpreter has no IPython 8 to lay over this environment")
    nb = run_notebook(CELLS, tmp_path, kernel_db, pythonpath=overlay)
    assert errors(nb) == []
    assert printed(nb, "ipython=") == ipython
    backend = Backend.open(kernel_db)
    me = identity.actor_for(backend, identity.server_owner())
    first = runs.list_runs(backend, me, identity.server_owner(), "cells")["items"][-1]
    rows = markers.list_markers(backend, me, first["id"])
    shown = {c.source.splitlines()[0]: c.execution_count for c in nb.cells}
    by_line = {r["first_line"]: r for r in rows}
    # Every cell after `%labdeck start`, the stopping one included.
    for source in CELLS[2:6]:
        line = source.splitlines()[0]
        assert by_line[line]["execution_count"] == shown[line], (line, rows)

    # %%labdeck around a 1 s cell: its band has the outer cell's number, and
    # `cpu` has at least two points (the baseline and closing samples).
    second = printed(nb, "run=")
    inner = markers.list_markers(backend, me, second)
    assert [r["execution_count"] for r in inner] == [shown["%%labdeck --project cells --no-chart"]]
    cpu = metrics.read_series(backend, me, second, keys=["cpu"])["series"].get("cpu", {"t": []})
    assert len(cpu["t"]) >= 2, cpu
