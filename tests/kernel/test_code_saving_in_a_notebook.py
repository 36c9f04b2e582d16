"""Code saving (F-TS-4) from a real kernel (nbclient) and from `labdeck
monitor`: with `--save-code` a run keeps every executed cell's source in
order (and the command line and script of `labdeck monitor`), with
`--no-save-code` nothing at all, and the ledger rows carry the sources."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from labdeck.backend.context import Backend
from labdeck.backend.services import code, identity, runs
from notebooks import errors, printed, run_notebook

LABDECK = str(Path(sys.executable).with_name("labdeck"))
CELLS = [
    "%load_ext labdeck",
    "%labdeck start --project saved --interval 0.5 --no-chart --save-code",
    "def square(x):\n    return x * x",
    "total = sum(square(i) for i in range(10))",
    "%labdeck stop",
    "%labdeck start --project unsaved --interval 0.5 --no-chart --no-save-code",
    "secret = 'not kept'",
    "%labdeck stop",
    "import labdeck\n"
    "run = labdeck.runs('saved').rows[0]\n"
    "rows = run.cells()\n"
    "print('sources=' + '|'.join(r.get('source', '-').replace(chr(10), '/') for r in rows))",
]


def test_cells_saved_only_when_asked(kernel_db: str, tmp_path: Path) -> None:
    nb = run_notebook(CELLS, tmp_path, kernel_db)
    assert errors(nb) == []
    backend = Backend.open(kernel_db)
    me = identity.actor_for(backend, identity.server_owner())
    owner = identity.server_owner()
    (saved,) = runs.list_runs(backend, me, owner, "saved")["items"]
    (unsaved,) = runs.list_runs(backend, me, owner, "unsaved")["items"]
    files = code.list_code(backend, me, saved["id"])["files"]
    shown = [c.execution_count for c in nb.cells[2:5]]
    assert [f["text"] for f in files] == [CELLS[2], CELLS[3], CELLS[4]]
    assert [f["execution_count"] for f in files] == shown
    assert [f["name"] for f in files] == [f"In [{n}]" for n in shown]
    assert code.list_code(backend, me, unsaved["id"]) == {"code_saving": False, "files": []}
    stored = [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    assert len(stored) == 3 and not any("not kept" in p.read_text() for p in stored)
    # The ledger's rows carry their cells' sources (stored run, read in the kernel).
    assert printed(nb, "sources=") == "|".join(c.replace("\n", "/") for c in CELLS[2:5])


def test_labdeck_monitor_saves_its_command_and_script(kernel_db: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("import time\nprint('training')\ntime.sleep(0.5)\n")
    argv = [sys.executable, "-u", str(script)]
    for flag, project in (("--save-code", "cli-saved"), ("--no-save-code", "cli-unsaved")):
        done = subprocess.run(
            [LABDECK, "monitor", "--project", project, "--interval", "0.2", flag, "--", *argv],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    backend = Backend.open(kernel_db)
    me = identity.actor_for(backend, identity.server_owner())
    owner = identity.server_owner()
    (saved,) = runs.list_runs(backend, me, owner, "cli-saved")["items"]
    (unsaved,) = runs.list_runs(backend, me, owner, "cli-unsaved")["items"]
    files = code.list_code(backend, me, saved["id"])["files"]
    assert [(f["kind"], f["name"], f["text"]) for f in files] == [
        ("command", "command line", shlex.join(argv)),
        ("script", str(script), script.read_text()),
    ]
    assert code.list_code(backend, me, unsaved["id"])["files"] == []


def test_a_script_monitoring_itself_saves_itself(kernel_db: str, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import labdeck\n"
        "with labdeck.monitor(project='script', interval=0.2, save_code=True) as run:\n"
        "    print(run.id)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), "--lr", "0.1"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    backend = Backend.open(kernel_db)
    me = identity.actor_for(backend, identity.server_owner())
    files = code.list_code(backend, me, done.stdout.strip())["files"]
    assert [(f["kind"], f["text"]) for f in files] == [
        ("command", shlex.join([sys.executable, str(script), "--lr", "0.1"])),
        ("script", script.read_text()),
    ]
