"""cgroup v2 limits, so that percentages in a container are taken against the container.

A notebook in a 4-CPU, 16 GB pod on a 128-core host is at 100 % when it uses
4 CPUs, not 3 %. The limits are read once at start (they are set by whoever
launched the container and do not move under a running kernel); only
`memory.current` is read per sample, through a descriptor kept open.

The effective limit is the tightest one on the path from the process's
cgroup up to the root of the mounted hierarchy, since any ancestor's
`memory.max` or `cpu.max` bounds its descendants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class CgroupLimits:
    """The limits that apply to one process; None means "not limited"."""

    path: str | None
    memory_max: int | None
    memory_dir: str | None
    cpu_quota: float | None
    cpuset_cpus: int | None
    host_cpus: int
    reason: str = ""

    @property
    def usable_cpus(self) -> float:
        """How many CPUs the process can use at most: what "100 %" of `cpu` means."""
        bounds: list[float] = [float(self.host_cpus)]
        if self.cpu_quota is not None:
            bounds.append(self.cpu_quota)
        if self.cpuset_cpus is not None:
            bounds.append(float(self.cpuset_cpus))
        return max(min(bounds), 0.01)

    def info(self) -> dict[str, object]:
        return {
            "cgroup_v2": self.path is not None,
            "cgroup_path": self.path,
            "memory_max_bytes": self.memory_max,
            "memory_limit_cgroup": self.memory_dir,
            "cpu_max_cpus": self.cpu_quota,
            "cpuset_cpus": self.cpuset_cpus,
            "host_cpus": self.host_cpus,
            "usable_cpus": self.usable_cpus,
            "reason": self.reason,
        }


def parse_cpu_max(text: str) -> float | None:
    """`cpu.max` ("max 100000" or "150000 100000") as a number of CPUs."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    period = float(parts[1]) if len(parts) > 1 else 100000.0
    return float(parts[0]) / period if period > 0 else None


def parse_cpuset(text: str) -> int | None:
    """Count the CPUs of a cpuset list such as "0-3,6,8-9"."""
    count = 0
    for chunk in text.strip().split(","):
        if not chunk:
            continue
        low, _, high = chunk.partition("-")
        count += int(high) - int(low) + 1 if high else 1
    return count or None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _host_cpus(pid: int | None) -> int:
    try:
        return len(os.sched_getaffinity(pid or 0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _own_cgroup(pid: int | None, proc: str) -> str | None:
    text = _read(f"{proc}/{pid or 'self'}/cgroup")
    for line in (text or "").splitlines():
        if line.startswith("0::"):
            return line[3:] or "/"
    return None


def _ancestry(directory: str, root: str) -> list[str]:
    """`directory` and its parents up to and including `root`, innermost first."""
    chain = [directory]
    while os.path.normpath(chain[-1]) != os.path.normpath(root):
        parent = os.path.dirname(chain[-1].rstrip("/"))
        if not parent.startswith(root.rstrip("/")) or parent == chain[-1]:
            break
        chain.append(parent)
    return chain


def read_cgroup_limits(
    pid: int | None = None,
    root: str = DEFAULT_ROOT,
    proc: str = "/proc",
    host_cpus: int | None = None,
) -> CgroupLimits:
    """Read the limits that bound `pid` (default: this process); never raises."""
    cpus = host_cpus if host_cpus is not None else _host_cpus(pid)
    relative = _own_cgroup(pid, proc)
    if relative is None:
        return CgroupLimits(None, None, None, None, None, cpus, "process is not in a cgroup v2")
    if not os.path.exists(os.path.join(root, "cgroup.controllers")):
        reason = f"no cgroup v2 hierarchy mounted at {root} (cgroup v1 or hybrid host)"
        return CgroupLimits(None, None, None, None, None, cpus, reason)
    directory = os.path.join(root, relative.lstrip("/"))
    if not os.path.isdir(directory):
        # A container without its own cgroup namespace shows the host's path
        # in /proc/self/cgroup but mounts its own cgroup as the root.
        directory = root
    memory_max: int | None = None
    memory_dir: str | None = None
    cpu_quota: float | None = None
    cpuset: int | None = None
    for level in _ancestry(directory, root):
        memory = _read(os.path.join(level, "memory.max"))
        if memory and memory != "max" and memory.isdigit():
            if memory_max is None or int(memory) < memory_max:
                memory_max, memory_dir = int(memory), level
        cpu = _read(os.path.join(level, "cpu.max"))
        quota = parse_cpu_max(cpu) if cpu else None
        if quota is not None and (cpu_quota is None or quota < cpu_quota):
            cpu_quota = quota
        if cpuset is None:
            cpus_text = _read(os.path.join(level, "cpuset.cpus.effective"))
            cpuset = parse_cpuset(cpus_text) if cpus_text else None
    return CgroupLimits(directory, memory_max, memory_dir, cpu_quota, cpuset, cpus)


class CgroupMemory:
    """`memory.current` of the cgroup whose `memory.max` is the binding limit."""

    def __init__(self, directory: str) -> None:
        self._fd: int | None = os.open(
            os.path.join(directory, "memory.current"), os.O_RDONLY | os.O_CLOEXEC
        )

    def current(self) -> int:
        if self._fd is None:
            raise ValueError("memory.current reader is closed")
        return int(os.pread(self._fd, 64, 0))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
