"""`labdeck monitor -- COMMAND`: the command's process tree is the run, its
exit status is forwarded, and it ends finished or crashed."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, metrics, runs

# The kernel's user: the OS account it runs as (F-ID-1), whatever the
# environment says.
OWNER = identity.server_owner()

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
    kim = identity.actor_for(backend, OWNER)
    return runs.list_runs(backend, kim, OWNER, "cli")["items"]


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
    kim = identity.actor_for(backend, OWNER)
    series = metrics.read_series(backend, kim, run["id"], keys=["cpu", "proc.memory.rssMB"])
    # The grandchild burns a core and holds 200 MB: the process tree shows both.
    # (What a loaded 2-core host leaves it; the exact figure is checked against
    # ground truth in test_monitor_command_counts_the_commands_short_children.)
    assert max(series["series"]["cpu"]["v"]) > 5
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


# Stops gracefully (exit 0, 1.5 s later) on the first SIGINT, hard (exit 130)
# on a second: each SIGINT it receives is a line in the file it is given.
DOUBLE_SIGINT_SENSITIVE = """
import os, signal, sys, time
out = sys.argv[1]
count = 0
def on_int(signum, frame):
    global count
    count += 1
    with open(out, "a") as f:
        f.write("SIGINT\\n")
    if count >= 2:
        os._exit(130)
signal.signal(signal.SIGINT, on_int)
open(out + ".ready", "w").close()
graceful_end = None
while True:
    time.sleep(0.05)
    if count == 1 and graceful_end is None:
        graceful_end = time.monotonic() + 1.5
    if graceful_end is not None and time.monotonic() > graceful_end:
        sys.exit(0)
"""


def _monitor_argv(out: Path) -> list[str]:
    return [
        LABDECK,
        "monitor",
        "--project",
        "cli",
        "--interval",
        "0.2",
        "--",
        sys.executable,
        "-c",
        DOUBLE_SIGINT_SENSITIVE,
        str(out),
    ]


def _wait_ready(out: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not Path(f"{out}.ready").exists():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    time.sleep(0.3)  # labdeck is waiting on the command by now


def _drain(fd: int) -> threading.Thread:
    def read() -> None:
        while True:
            try:
                if not os.read(fd, 4096):
                    return
            except OSError:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def test_ctrl_c_at_a_terminal_reaches_the_command_once(kernel_db, tmp_path):
    """Ctrl-C typed at a real terminal (a pty whose foreground group holds labdeck
    and its command): the command gets the terminal's SIGINT and no second one."""
    out = tmp_path / "signals"
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader with the pty as its terminal
        os.execv(LABDECK, _monitor_argv(out))
    try:
        _drain(master)
        _wait_ready(out)
        os.write(master, b"\x03")  # the terminal's VINTR: SIGINT to the foreground group
        deadline = time.monotonic() + 60
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            assert time.monotonic() < deadline, "labdeck monitor did not end"
            time.sleep(0.05)
    finally:
        os.close(master)
    assert out.read_text() == "SIGINT\n"  # exactly one: stopped gracefully
    assert os.waitstatus_to_exitcode(done[1]) == 0
    (run,) = _runs(kernel_db)
    assert run["state"] == "finished"


def test_sigint_sent_to_labdeck_alone_is_forwarded_once(kernel_db, tmp_path):
    """`kill -INT <labdeck>`: the command would not get it otherwise."""
    out = tmp_path / "signals"
    process = subprocess.Popen(_monitor_argv(out), stderr=subprocess.DEVNULL)
    try:
        _wait_ready(out)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.read_text() == "SIGINT\n"


def test_monitor_command_counts_the_commands_short_children(kernel_db, tmp_path):
    """8 children of 0.4 s CPU each under `labdeck monitor`: what the command and
    its children spent (its own `os.times()` at exit) is in the recorded `cpu`,
    the part after the last tick too (the closing sample reads the command as a
    zombie, before labdeck reaps it)."""
    truth_file = tmp_path / "truth"
    script = (
        "import os, subprocess, sys\n"
        "burn = 'import time\\nwhile time.process_time() < 0.4: pass'\n"
        "for _ in range(4):\n"
        "    pair = [subprocess.Popen([sys.executable, '-c', burn]) for _ in range(2)]\n"
        "    [p.wait() for p in pair]\n"
        "t = os.times()\n"
        f"open({str(truth_file)!r}, 'w').write(str(sum(t[:4])))\n"
    )
    done = subprocess.run(
        [LABDECK, "monitor", "--project", "cli", "--interval", "0.5", "--"]
        + [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    (run,) = _runs(kernel_db)
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, OWNER)
    series = metrics.read_series(backend, kim, run["id"], keys=["cpu"])["series"]["cpu"]
    host = runs.get_run(backend, kim, run["id"])["system"]["host"]
    usable = host["cgroup"]["usable_cpus"]
    # Each `cpu` value covers the span since the sample before it; the first
    # one spans from the command's launch (`cpu_since`): the command counts whole.
    stamps = metrics.read_series(backend, kim, run["id"], keys=["proc.cpu.threads"])["series"]
    all_t = [host["cpu_since"], *stamps["proc.cpu.threads"]["t"]]
    measured = 0.0
    for stamp, value in zip(series["t"], series["v"], strict=True):
        before = max(x for x in all_t if x < stamp)
        measured += value / 100 * usable * (stamp - before)
    truth = float(truth_file.read_text())
    assert truth >= 8 * 0.4 * 0.95
    assert 0.8 * truth <= measured <= 1.2 * truth + 0.3, (measured, truth)


def test_without_sigtimedwait_a_handler_forwards(kernel_db, monkeypatch):
    """The portable path (macOS has neither `sigtimedwait` nor `waitid`): a
    SIGTERM sent to labdeck reaches the command through a plain handler."""
    from labdeck.kernel import command as command_module

    monkeypatch.setattr(command_module, "_PRECISE", False)
    default = signal.getsignal(signal.SIGTERM)

    def terminate_once_handled() -> None:
        deadline = time.monotonic() + 60
        while signal.getsignal(signal.SIGTERM) is default and time.monotonic() < deadline:
            time.sleep(0.05)
        if signal.getsignal(signal.SIGTERM) is not default:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_handled, daemon=True).start()
    status = command_module.run_monitored(
        [sys.executable, "-c", "import time; time.sleep(60)"], project="cli", interval=0.2
    )
    assert status == 128 + signal.SIGTERM
    (run,) = _runs(kernel_db)
    assert run["state"] == "crashed"
