"""The `%labdeck` magic in a real IPython shell: start/status/pause/stop,
cell markers, and `%%labdeck` ending `crashed` when its cell raises."""

from __future__ import annotations

import socket
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, markers, metrics, runs

# The kernel's user: the OS account it runs as (F-ID-1), whatever the
# environment says.
OWNER = identity.server_owner()


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
    kim = identity.actor_for(backend, OWNER)
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
    kim = identity.actor_for(backend, OWNER)
    assert runs.get_run(backend, kim, monitor.run_id)["state"] == "crashed"
    shell.run_cell("%%labdeck --project nb --interval 0.1 --no-chart\nz = 1")
    assert runs.get_run(backend, kim, _magics(shell).monitor.run_id)["state"] == "finished"


def test_stop_after_a_crashed_cell_says_nothing_runs(shell, capsys):
    shell.run_cell("%%labdeck --project nb --interval 0.1 --no-chart\nraise ValueError('boom')")
    run_id = _magics(shell).monitor.run_id
    capsys.readouterr()
    shell.run_cell("%labdeck stop")
    out = capsys.readouterr().out
    assert "finished" not in out
    assert f"no monitor running (run {run_id} ended crashed)" in out


def test_a_one_second_cell_has_two_points_of_every_key(shell, kernel_db):
    shell.run_cell("%%labdeck --project nb --no-chart\nimport time; time.sleep(1.0)")
    run_id = _magics(shell).monitor.run_id
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, OWNER)
    series = metrics.read_series(backend, kim, run_id)["series"]
    assert {"cpu", "memory", "proc.memory.rssMB", "network.sent"} <= set(series)
    assert {key: len(s["t"]) for key, s in series.items() if len(s["t"]) < 2} == {}


def test_openmetrics_option_and_a_failing_endpoint_in_status(shell, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/metrics"
    assert shell.run_cell(
        f"%labdeck start --project nb --interval 0.2 --no-chart --openmetrics dead={dead}"
    ).success
    monitor = _magics(shell).monitor
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not monitor.status()["problems"]:
        time.sleep(0.1)
    shell.run_cell("%labdeck status")
    out = capsys.readouterr().out
    shell.run_cell("%labdeck stop")
    assert "collectors: host, openmetrics" in out
    assert "failing openmetrics: endpoint dead: URLError" in out


def test_start_twice_is_refused(shell):
    assert shell.run_cell("%labdeck start --project nb --interval 0.1 --no-chart").success
    result = shell.run_cell("%labdeck start --project nb --no-chart")
    assert not result.success and "already running" in str(result.error_in_exec)
    shell.run_cell("%labdeck stop")


def test_live_chart_receives_samples_and_bands(shell):
    assert shell.run_cell("%labdeck start --project nb --interval 0.1").success
    shell.run_cell("a = [0] * 10**6", store_history=True)
    # Shown at once, drawn once Plotly is loaded (off the main thread).
    chart = _magics(shell).chart.wait(120)
    assert chart is not None
    # `cpu` is a rate: it comes with the second sample, so a later draw adds it.
    deadline = time.time() + 90  # a busy machine: the first draw adds ~14 traces
    while time.time() < deadline and (
        chart.updates < 1 or "CPU (process)" not in {t.name for t in chart.data}
    ):
        time.sleep(0.1)
    assert chart.updates >= 1
    assert len(chart.data) >= 10
    # Readable names, the raw key kept for the hover.
    assert {"CPU (process)", "used", "RSS"} <= {t.name for t in chart.data}
    assert {"cpu", "memory", "proc.memory.rssMB"} <= {t.meta for t in chart.data}
    assert any(s.type == "rect" for s in chart.view.figure.layout.shapes)
    shell.run_cell("%labdeck stop")
