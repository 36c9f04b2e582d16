"""`proc.memory.pssMB` (beta feature `proc_memory_pss`): the proportional set
size of the monitored process tree, shared pages split among their users.

Reading PSS walks /proc/<pid>/smaps (about a millisecond a process), so this
is a slow collector: it runs on its own worker and never delays the others.
"""

from __future__ import annotations

import sys

import psutil

from .base import Collector, Probe, process_tree

MB = 1024**2


class PssCollector(Collector):
    name = "pss"
    slow = True

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def probe(self) -> Probe:
        if not sys.platform.startswith("linux"):
            return Probe(False, "PSS is read from /proc/<pid>/smaps, which only Linux has")
        try:
            psutil.Process(self.pid).memory_full_info()
        except psutil.AccessDenied:
            return Probe(False, "not allowed to read /proc/<pid>/smaps")
        except psutil.Error as exc:
            return Probe(False, f"cannot read the process: {exc}")
        return Probe(True)

    def sample(self) -> dict[str, float]:
        total = 0
        for pid in process_tree(self.pid):
            try:
                total += psutil.Process(pid).memory_full_info().pss
            except psutil.Error:
                continue  # a child that exited between the scan and the read
        return {"proc.memory.pssMB": total / MB}
