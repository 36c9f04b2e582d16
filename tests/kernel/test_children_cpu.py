"""Every CPU-second of the process tree is counted, short-lived children
included (issue 15 item 1, F-SM-10), against ground truth read apart: the
parent's own `os.times()`, whose children fields sum what it reaped."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labdeck.kernel.collectors.base import SamplerConfig
from labdeck.kernel.collectors.host import HostCollector
from labdeck.kernel.collectors.proctree import ProcfsTree, parse_tree_stat
from labdeck.kernel.sampler import Sampler

LINUX = sys.platform.startswith("linux")
# A child that burns `seconds` of its own CPU time, however busy the machine.
BURN = "import time\nwhile time.process_time() < {seconds}: pass\n"


def _spawn_burners(count: int, seconds: float, parallel: int = 2) -> None:
    """`count` children of `seconds` CPU each, `parallel` at a time, each waited for."""
    running: list[subprocess.Popen[bytes]] = []
    for _ in range(count):
        running.append(subprocess.Popen([sys.executable, "-c", BURN.format(seconds=seconds)]))
        if len(running) >= parallel:
            running.pop(0).wait()
    for child in running:
        child.wait()


def _cpu_now() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.mark.parametrize("procfs", [True, False] if LINUX else [False])
def test_eight_short_children_are_counted_at_a_half_second_monitor(procfs: bool) -> None:
    """The issue's case: 8 children of 0.8 s each while a 0.5 s monitor runs."""
    seconds: list[float] = []
    last: list[float] = []
    host = HostCollector(SamplerConfig(interval=0.5), procfs=procfs)
    usable: list[float] = []

    def sink(stamp: float, values: dict[str, float]) -> None:
        if "cpu" in values and last:
            seconds.append(values["cpu"] / 100 * usable[0] * (stamp - last[0]))
        last[:] = [stamp]

    sampler = Sampler([host], SamplerConfig(interval=0.5), [sink])
    limits = host._limits
    assert limits is not None
    usable.append(limits.usable_cpus)
    before = _cpu_now()
    sampler.start()
    children_before = os.times().children_user + os.times().children_system
    _spawn_burners(8, 0.8)
    children = os.times().children_user + os.times().children_system - children_before
    sampler.stop()
    truth = _cpu_now() - before
    measured = sum(seconds)
    assert children >= 8 * 0.8 * 0.95  # the workload did what it says
    # Everything the tree spent (the children and this process's threads):
    # tight enough to miss no child (one is 10 % of the total), loose for a noisy host.
    assert measured >= 0.8 * truth, (measured, truth, children)
    assert measured <= 1.15 * truth + 0.3, (measured, truth, children)


@pytest.mark.skipif(not LINUX, reason="the /proc reader exists on Linux only")
def test_child_found_late_counts_from_its_start_and_reaped_once() -> None:
    """A child already burning when first found counts from its start; once
    reaped, its whole life is in the parent's cutime and is not counted twice."""
    tree = ProcfsTree(os.getpid())
    own_before = sum(os.times()[:2])
    child = subprocess.Popen([sys.executable, "-c", BURN.format(seconds=0.6) + "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/stat", "rb") as stat:
                ticks = parse_tree_stat(stat.read())[2]
            if ticks / os.sysconf("SC_CLK_TCK") >= 0.6:
                break
            time.sleep(0.05)
        tree.refresh()  # found only now, 0.6 s of CPU into its life
        counted = tree.read()[0]
    finally:
        child.kill()
        child.wait()
    counted += tree.read()[0]  # reaped: its figure moves to this process's cutime
    counted += tree.read()[0]
    own = sum(os.times()[:2]) - own_before
    tree.close()
    reaped = os.times().children_user + os.times().children_system
    assert counted >= 0.6 - 0.05
    assert counted <= own + reaped + 0.05, "a reaped child is counted once"


def test_child_started_and_reaped_between_two_samples_counts() -> None:
    host = HostCollector(SamplerConfig(interval=10), procfs=LINUX)
    assert host.probe().present
    try:
        host.sample()
        started = time.monotonic()
        before = _cpu_now()
        thread = threading.Thread(target=_spawn_burners, args=(2, 0.5))
        thread.start()
        thread.join()
        values = host.sample()
        elapsed = time.monotonic() - started
        truth = _cpu_now() - before
        limits = host._limits
        assert limits is not None
        measured = values["cpu"] / 100 * limits.usable_cpus * elapsed
    finally:
        host.close()
    assert measured >= 0.8 * truth and truth >= 0.95


@pytest.mark.skipif(not LINUX, reason="the /proc reader exists on Linux only")
def test_children_of_a_parent_that_ignores_sigchld_are_not_taken_back(tmp_path: Path) -> None:
    """With SIGCHLD ignored the kernel reaps children and the parent's cutime
    stays: what was counted for a child must not be taken back from what the
    tree spends next (the parent's own 0.3 s after the child is gone)."""
    done = tmp_path / "done"
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time\\n"
        "while time.process_time() < 0.5: pass'])\n"
        "time.sleep(2.0)\n"
        "start = time.process_time()\n"
        "while time.process_time() < start + 0.3: pass\n"
        f"open({str(done)!r}, 'w').close()\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        tree = ProcfsTree(parent.pid, since=time.time() - 5)
        counted, deadline = 0.0, time.monotonic() + 60
        while time.monotonic() < deadline and not done.exists():
            tree.refresh()
            counted += tree.read()[0]
            time.sleep(0.1)
        counted += tree.read()[0]
        with open(f"/proc/{parent.pid}/stat", "rb") as stat:
            parent_own = sum(int(x) for x in stat.read().rsplit(b")", 1)[1].split()[11:13])
        tree.close()
    finally:
        parent.kill()
        parent.wait()
    truth = parent_own / os.sysconf("SC_CLK_TCK") + 0.5  # the parent's own time + the child's
    assert counted >= 0.9 * truth, (counted, truth)
