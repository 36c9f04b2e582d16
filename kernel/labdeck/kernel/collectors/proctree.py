"""The monitored process tree: the process and its descendants (F-SM-10).

Every CPU-second the tree spends is counted, short-lived children included:

- a pid's figure is its own CPU time plus what it reaped (`utime + stime +
  cutime + cstime`), so a child that starts and is waited for between two
  samples arrives through its parent's `cutime`/`cstime`;
- a child found after the monitor started is counted from its start, not
  from when it was found;
- a tracked child that is reaped leaves its last figure as a credit on its
  parent, whose `cutime` now holds the child's whole life: what was already
  counted is not counted twice.

A child reaped by a process outside the tree (its parent died first) loses
what it spent since the last sample. `labdeck monitor` reaps its command
itself: it takes the closing sample while the command is a zombie, whose
stat still holds its final figure (see command.py).

Read from /proc where there is one: a pid is tracked through its `stat`
file, kept open and re-read with `pread` (CPU time, threads and RSS from
that one file; psutil reads three). The tree is refreshed at every sample,
but only when /proc/loadavg shows a new pid since the last look, and only
new pids have their parent read. (`/proc/<pid>/task/<tid>/children` needs
CONFIG_PROC_CHILDREN, missing on some kernels, and one read per thread.)
Elsewhere psutil walks it, its `Process` objects kept so CPU deltas work.
"""

from __future__ import annotations

import os
import signal
import time

import psutil


class ProcFile:
    """A /proc file kept open and re-read from offset 0."""

    __slots__ = ("_fd", "_size")

    def __init__(self, path: str, size: int = 4096) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._size = size

    def read(self) -> bytes:
        data = os.pread(self._fd, self._size, 0)
        while len(data) >= self._size:
            self._size *= 4
            data = os.pread(self._fd, self._size, 0)
        return data

    def close(self) -> None:
        os.close(self._fd)


def parse_stat(data: bytes) -> tuple[bytes, int, int, int, int]:
    """(state, ppid, utime+stime ticks, threads, rss pages) from /proc/<pid>/stat.

    Fields are counted after the last ')' because the command name may hold
    spaces and parentheses.
    """
    fields = data[data.rfind(b")") + 2 :].split()
    cpu = int(fields[11]) + int(fields[12])
    return fields[0], int(fields[1]), cpu, int(fields[17]), int(fields[21])


def parse_tree_stat(data: bytes) -> tuple[bytes, int, int, int, int, int]:
    """(state, ppid, own+reaped CPU ticks, threads, rss pages, start tick) from /proc/<pid>/stat.

    The CPU figure is `utime + stime + cutime + cstime`: what the process
    spent and what the children it waited for spent.
    """
    fields = data[data.rfind(b")") + 2 :].split()
    cpu = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return fields[0], int(fields[1]), cpu, int(fields[17]), int(fields[21]), int(fields[19])


def _ignores_sigchld(pid: int) -> bool:
    """Whether `pid` ignores SIGCHLD: its children are reaped by the kernel then,
    and their time never reaches its `cutime`, so there is nothing to take back."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGCHLD - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


class ProcfsTree:
    """The monitored tree read from /proc; a pid is tracked through an open stat file."""

    def __init__(self, pid: int, since: float | None = None) -> None:
        self._root = pid
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._files: dict[int, ProcFile] = {}
        self._last: dict[int, int] = {}
        self._parents: dict[int, int] = {}
        self._debt = 0
        self._loadavg = ProcFile("/proc/loadavg", 256)
        self._last_pid = b""
        # Processes started from now (or `since`) on are counted from their start.
        with open("/proc/uptime", "rb") as uptime:
            booted = float(uptime.read().split()[0])
        if since is not None:
            booted -= max(time.time() - since, 0.0)
        self._since = int(booted * self._tick)
        self._track(pid)

    def _track(self, pid: int) -> None:
        try:
            handle = ProcFile(f"/proc/{pid}/stat", 1024)
        except OSError:
            return  # gone already
        try:
            _, ppid, cpu, _, _, started = parse_tree_stat(handle.read())
        except (OSError, ValueError, IndexError):
            handle.close()
            return
        self._files[pid] = handle
        # A process born since the monitor started counts from zero: what it
        # spent before it was found is the tree's too.
        self._last[pid] = 0 if started >= self._since else cpu
        self._parents[pid] = ppid

    def _forget(self, pid: int) -> None:
        self._files.pop(pid).close()
        self._last.pop(pid, None)

    def _scan(self) -> None:
        """Track the new pids whose parent is tracked; only new pids are read.

        Pids are taken in increasing order, so a child created with its
        parent since the last look follows it; a pass is repeated for the rare
        child whose pid wrapped around below its parent's.
        """
        listed = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        known, files = self._parents, self._files
        for gone in known.keys() - listed - files.keys():
            del known[gone]
        waiting = []
        for pid in sorted(listed - known.keys()):
            try:
                with open(f"/proc/{pid}/stat", "rb") as handle:
                    known[pid] = parse_stat(handle.read())[1]
            except (OSError, ValueError, IndexError):
                continue
            waiting.append(pid)
        found = True
        while found:
            found = False
            for pid in waiting:
                if pid not in files and known.get(pid) in files and pid != self._root:
                    parent = known[pid]
                    self._track(pid)  # re-reads its parent: the pid may have been reused
                    if pid in files and self._parents[pid] != parent:
                        self._forget(pid)
                    found = found or pid in files

    def refresh(self) -> None:
        last_pid = self._loadavg.read().rsplit(b" ", 1)[-1]
        if last_pid != self._last_pid:
            self._last_pid = last_pid
            self._scan()

    def read(self) -> tuple[float, int, int]:
        """CPU seconds used since the previous read, threads and RSS bytes of the tree."""
        cpu_ticks = threads = rss = 0
        last, parents = self._last, self._parents
        # Children before parents (a pid is tracked after its parent): a child
        # found reaped here is already in its parent's cutime when the parent
        # is read below, so its credit meets the figure it corrects.
        for pid in reversed(list(self._files)):
            try:
                state, ppid, cpu, nthreads, pages, _ = parse_tree_stat(self._files[pid].read())
            except (OSError, ValueError, IndexError):
                parent = parents.get(pid)
                if parent in last and not _ignores_sigchld(parent):
                    last[parent] += last[pid]  # reaped: its whole life is now in the parent's
                self._forget(pid)
                continue
            cpu_ticks += cpu - last[pid]
            last[pid] = cpu
            if pid != self._root and ppid != parents.get(pid):
                parents[pid] = ppid
                self._forget(pid)  # re-parented away from the tree: its parent died
                continue
            if state == b"Z":
                continue  # exited, not yet reaped: no threads, no memory
            threads += nthreads
            rss += pages
        # A child read just before its parent reaped it is counted twice for
        # one sample and taken back at the next: carry a negative remainder.
        cpu_ticks += self._debt
        self._debt = min(cpu_ticks, 0)
        return max(cpu_ticks, 0) / self._tick, threads, rss * self._page

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._loadavg.close()


class PsutilTree:
    """The monitored tree through psutil, refreshed with `children(recursive=True)`.

    Same accounting as `ProcfsTree`, with psutil's `children_user` and
    `children_system` as the reaped part (zero where the platform has none).
    """

    def __init__(self, pid: int, since: float | None = None) -> None:
        self._root = psutil.Process(pid)
        self._since = time.time() if since is None else since
        self._procs: dict[int, psutil.Process] = {pid: self._root}
        self._parents: dict[int, int] = {}
        fresh = self._root.create_time() >= self._since
        self._last: dict[int, float] = {pid: 0.0 if fresh else self._cpu(self._root)}
        self._debt = 0.0

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def refresh(self) -> None:
        try:
            children = self._root.children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            if child.pid not in self._procs:
                try:
                    fresh = child.create_time() >= self._since
                    self._last[child.pid] = 0.0 if fresh else self._cpu(child)
                    self._parents[child.pid] = child.ppid()
                except psutil.Error:
                    continue
                self._procs[child.pid] = child

    def read(self) -> tuple[float, int, int]:
        cpu = self._debt
        threads = rss = 0
        for pid, proc in reversed(list(self._procs.items())):
            try:
                with proc.oneshot():
                    now_cpu = self._cpu(proc)
                    threads += proc.num_threads()
                    rss += proc.memory_info().rss
            except psutil.Error:
                parent = self._parents.pop(pid, None)
                if parent is not None and parent in self._last:
                    self._last[parent] += self._last[pid]
                del self._procs[pid]
                del self._last[pid]
                continue
            cpu += now_cpu - self._last[pid]
            self._last[pid] = now_cpu
        self._debt = min(cpu, 0.0)
        return max(cpu, 0.0), threads, rss

    def close(self) -> None:
        self._procs.clear()
