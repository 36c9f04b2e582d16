"""The monitored process tree: the process and its descendants (F-SM-10).

Read from /proc where there is one: a pid is tracked through its `stat`
file, kept open and re-read with `pread` (CPU time, threads and RSS from
that one file; psutil reads three). The tree is refreshed only when
/proc/loadavg shows a new pid since the last look, and only new pids have
their parent read. (`/proc/<pid>/task/<tid>/children` needs
CONFIG_PROC_CHILDREN, missing on some kernels, and one read per thread.)
Elsewhere psutil walks it, its `Process` objects kept so CPU deltas work.
"""

from __future__ import annotations

import os

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


class ProcfsTree:
    """The monitored tree read from /proc; a pid is tracked through an open stat file."""

    def __init__(self, pid: int) -> None:
        self._root = pid
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._files: dict[int, ProcFile] = {}
        self._last: dict[int, int] = {}
        self._parents: dict[int, int] = {}
        self._loadavg = ProcFile("/proc/loadavg", 256)
        self._last_pid = b""
        self._track(pid)

    def _track(self, pid: int) -> None:
        try:
            handle = ProcFile(f"/proc/{pid}/stat", 1024)
        except OSError:
            return  # gone already
        try:
            _, ppid, cpu, _, _ = parse_stat(handle.read())
        except (OSError, ValueError, IndexError):
            handle.close()
            return
        self._files[pid] = handle
        self._last[pid] = cpu
        self._parents[pid] = ppid

    def _forget(self, pid: int) -> None:
        self._files.pop(pid).close()
        self._last.pop(pid, None)

    def _scan(self) -> None:
        listed: set[int] = set()
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            listed.add(pid)
            if pid not in self._parents:
                try:
                    with open(f"/proc/{pid}/stat", "rb") as handle:
                        self._parents[pid] = parse_stat(handle.read())[1]
                except (OSError, ValueError, IndexError):
                    continue
        for gone in self._parents.keys() - listed:
            del self._parents[gone]
        children: dict[int, list[int]] = {}
        for pid, ppid in self._parents.items():
            children.setdefault(ppid, []).append(pid)
        frontier = [self._root]
        while frontier:
            parent = frontier.pop()
            for pid in children.get(parent, ()):
                if pid == self._root:
                    continue
                if pid not in self._files:
                    # Re-read even a cached parent: the pid may have been reused.
                    self._track(pid)
                    if pid not in self._files:
                        continue
                    if self._parents[pid] != parent:
                        self._forget(pid)
                        continue
                frontier.append(pid)

    def refresh(self) -> None:
        last_pid = self._loadavg.read().rsplit(b" ", 1)[-1]
        if last_pid != self._last_pid:
            self._last_pid = last_pid
            self._scan()

    def read(self) -> tuple[float, int, int]:
        """CPU seconds used since the previous read, threads and RSS bytes of the tree."""
        cpu_ticks = threads = rss = 0
        left: list[int] = []
        for pid, handle in self._files.items():
            try:
                state, ppid, cpu, nthreads, pages = parse_stat(handle.read())
            except (OSError, ValueError, IndexError):
                left.append(pid)
                continue
            if pid != self._root and ppid != self._parents.get(pid):
                self._parents[pid] = ppid
                left.append(pid)  # re-parented away from the tree
                continue
            if state == b"Z":
                continue
            cpu_ticks += cpu - self._last[pid]
            self._last[pid] = cpu
            threads += nthreads
            rss += pages
        for pid in left:
            self._forget(pid)
        return cpu_ticks / self._tick, threads, rss * self._page

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._loadavg.close()


class PsutilTree:
    """The monitored tree through psutil, refreshed with `children(recursive=True)`."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._procs: dict[int, psutil.Process] = {pid: self._root}
        self._last: dict[int, float] = {pid: self._cpu(self._root)}

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)

    def refresh(self) -> None:
        try:
            children = self._root.children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            if child.pid not in self._procs:
                try:
                    self._last[child.pid] = self._cpu(child)
                except psutil.Error:
                    continue
                self._procs[child.pid] = child

    def read(self) -> tuple[float, int, int]:
        cpu = 0.0
        threads = rss = 0
        for pid, proc in list(self._procs.items()):
            try:
                with proc.oneshot():
                    now_cpu = self._cpu(proc)
                    threads += proc.num_threads()
                    rss += proc.memory_info().rss
            except psutil.Error:
                del self._procs[pid]
                continue
            cpu += now_cpu - self._last[pid]
            self._last[pid] = now_cpu
        return cpu, threads, rss

    def close(self) -> None:
        self._procs.clear()
