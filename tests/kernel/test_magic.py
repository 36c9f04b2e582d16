"""The `%labdeck` magic in a real IPython shell: start/status/pause/stop,
cell markers, and `%%labdeck` ending `crashed` when its cell raises."""

from __future__ import annotations

import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, markers, runs


@pytest.fixture
def shell(kernel_db):
    ip = InteractiveShell.instance()
    result = ip.run_cell("%load_ext labdeck")
    assert result.success, result.error_in_exec
    yield ip
    ip.run_cell("%unload_ext labdeck")
    InteractiveShell.clear_instance()


def _magics(ip):
    return ip.magics_manager.registry["LabdeckMagics"]


def test_start_status_markers_pause_stop(shell, kernel_db, capsys):
    assert shell.run_cell("%labdeck start --project nb --interval 0.1 --no-chart").success
    monitor = _magics(shell).monitor
    run_id = monitor.run_id
    assert shell.run_cell("x = sum(range(10**6))\ny = 2", store_history=True).success
    assert shell.run_cell("import time; time.sleep(0.3)", store_history=True).success
    shell.run_cell("%labdeck status")
    out = capsys.readouterr().out
    assert f"run {run_id}" in out and "collectors: host" in out and "skipped nvidia" in out
    shell.run_cell("%labdeck pause")
    taken = monitor.status()["samples_taken"]
    shell.run_cell("import time; time.sleep(0.35)", store_history=True)
    assert monitor.status()["samples_taken"] == taken, "paused: no samples"
    shell.run_cell("%labdeck resume")
    time.sleep(0.25)
    assert monitor.status()["samples_taken"] > taken
    assert shell.run_cell("%labdeck stop").success
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, "kim")
    assert runs.get_run(backend, kim, run_id)["state"] == "finished"
    cells = markers.list_markers(backend, kim, run_id)
    lines = [m["first_line"] for m in cells]
    assert "x = sum(range(10**6))" in lines
    assert "import time; time.sleep(0.3)" in lines
    assert all(m["end_t"] is not None and m["end_t"] >= m["start_t"] for m in cells)
    assert not any("0.35" in line for line in lines), "no marker while paused"


def test_cell_magic_that_raises_ends_crashed(shell, kernel_db):
    shell.run_cell("%%labdeck --project nb --interval 0.1 --no-chart\nraise ValueError('boom')")
    monitor = _magics(shell).monitor
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, "kim")
    assert runs.get_run(backend, kim, monitor.run_id)["state"] == "crashed"
    shell.run_cell("%%labdeck --project nb --interval 0.1 --no-chart\nz = 1")
    assert runs.get_run(backend, kim, _magics(shell).monitor.run_id)["state"] == "finished"


def test_start_twice_is_refused(shell):
    assert shell.run_cell("%labdeck start --project nb --interval 0.1 --no-chart").success
    result = shell.run_cell("%labdeck start --project nb --no-chart")
    assert not result.success and "already running" in str(result.error_in_exec)
    shell.run_cell("%labdeck stop")


def test_live_chart_receives_samples_and_bands(shell):
    assert shell.run_cell("%labdeck start --project nb --interval 0.1").success
    monitor = _magics(shell).monitor
    shell.run_cell("a = [0] * 10**6", store_history=True)
    chart = monitor._extra_sinks[0]
    # `cpu` is a rate: it comes with the second sample, so a later draw adds it.
    deadline = time.time() + 10
    while time.time() < deadline and "cpu" not in {t.name for t in chart.figure.data}:
        time.sleep(0.1)
    assert chart.updates >= 1
    assert len(chart.figure.data) >= 10
    names = {t.name for t in chart.figure.data}
    assert {"cpu", "memory", "proc.memory.rssMB"} <= names
    assert any(s.type == "rect" for s in chart.figure.layout.shapes)
    shell.run_cell("%labdeck stop")
