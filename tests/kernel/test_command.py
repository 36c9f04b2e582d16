"""`labdeck monitor -- COMMAND`: the command's process tree is the run, its
exit status is forwarded, and it ends finished or crashed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, metrics, runs

LABDECK = str(Path(sys.executable).parent / "labdeck")
BURN = (
    "import subprocess, sys;"
    "child = subprocess.Popen([sys.executable, '-c',"
    " 'import time\\nb = bytearray(200 * 2**20)\\nt = time.time()\\n"
    "while time.time() - t < 2.5: pass']);"
    "child.wait()"
)


def _runs(url: str) -> list[dict]:
    backend = Backend.open(url)
    kim = identity.actor_for(backend, "kim")
    return runs.list_runs(backend, kim, "kim", "cli")["items"]


def test_monitor_command_counts_the_child_and_finishes(kernel_db):
    done = subprocess.run(
        [
            LABDECK,
            "monitor",
            "--project",
            "cli",
            "--interval",
            "0.2",
            "--",
            sys.executable,
            "-c",
            BURN,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (run,) = _runs(kernel_db)
    assert run["state"] == "finished"
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, "kim")
    series = metrics.read_series(backend, kim, run["id"], keys=["cpu", "proc.memory.rssMB"])
    # The grandchild burns a core and holds 200 MB: the process tree shows both.
    assert max(series["series"]["cpu"]["v"]) > 20
    assert max(series["series"]["proc.memory.rssMB"]["v"]) > 150


def test_monitor_command_forwards_failure(kernel_db):
    done = subprocess.run(
        [
            LABDECK,
            "monitor",
            "--project",
            "cli",
            "--interval",
            "0.2",
            "--",
            sys.executable,
            "-c",
            "import sys; sys.exit(3)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3
    (run,) = _runs(kernel_db)
    assert run["state"] == "crashed"
