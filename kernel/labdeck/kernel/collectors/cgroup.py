"""cgroup limits, so that percentages in a container are taken against the container.

A notebook in a 4-CPU, 16 GB pod on a 128-core host is at 100 % when it uses
4 CPUs, not 3 %. The limits are read once at start (they are set by whoever
launched the container and do not move under a running kernel); only the
memory usage is read per sample, through descriptors kept open.

Both hierarchies are read. cgroup v2 (one tree, `0::/path` in
/proc/<pid>/cgroup): `memory.max`, `cpu.max`, `cpuset.cpus.effective`.
cgroup v1, alone or beside an empty v2 tree (a "hybrid" host): one tree per
controller (`4:memory:/path`, `2:cpu,cpuacct:/path`), mounted at
`<root>/memory`, `<root>/cpu` or `<root>/cpu,cpuacct`, `<root>/cpuset`:
`memory.limit_in_bytes`, `cpu.cfs_quota_us` / `cpu.cfs_period_us`,
`cpuset.effective_cpus`. A v2 tree with controllers wins over v1.

The effective limit is the tightest one on the path from the process's
cgroup up to the root of the mounted hierarchy, since any ancestor's limit
bounds its descendants.

Memory in use is the cgroup's usage (`memory.current`, v1
`memory.usage_in_bytes`) less its inactive file pages (`inactive_file` in
`memory.stat`, v1 `total_inactive_file`): page cache the kernel reclaims
before it would kill anything. That is the "working set" `docker stats` and
`kubectl top` report, so the three agree; the usage alone counts every file
the job ever read and sits near the limit on a healthy container.
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
    version: int | None = None

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
            "cgroup_version": self.version,
            "cgroup_v2": self.version == 2,
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


def _own_v1_cgroups(pid: int | None, proc: str) -> dict[str, str]:
    """Controller -> path from the v1 lines of /proc/<pid>/cgroup (`4:memory:/x`)."""
    paths: dict[str, str] = {}
    for line in (_read(f"{proc}/{pid or 'self'}/cgroup") or "").splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for controller in controllers.split(","):
            if controller and not controller.startswith("name="):
                paths[controller] = path or "/"
    return paths


def _v1_directory(root: str, controller: str, relative: str) -> str | None:
    """Where `controller`'s v1 tree holds `relative` (its mount root if it is not there)."""
    mounts = (controller, "cpu,cpuacct", "cpuacct,cpu") if controller == "cpu" else (controller,)
    for mount in mounts:
        top = os.path.join(root, mount)
        if os.path.isdir(top):
            directory = os.path.join(top, relative.lstrip("/"))
            return directory if os.path.isdir(directory) else top
    return None


def _read_v1_limits(pid: int | None, root: str, proc: str, cpus: int) -> CgroupLimits | None:
    owned = _own_v1_cgroups(pid, proc)
    memory_max: int | None = None
    memory_dir: str | None = None
    cpu_quota: float | None = None
    cpuset: int | None = None
    path: str | None = None
    memory = _v1_directory(root, "memory", owned["memory"]) if "memory" in owned else None
    if memory is not None:
        path = memory
        for level in _ancestry(memory, os.path.join(root, "memory")):
            text = _read(os.path.join(level, "memory.limit_in_bytes"))
            # "Unlimited" is a huge number (PAGE_COUNTER_MAX pages), not "max".
            if text and text.isdigit() and (memory_max is None or int(text) < memory_max):
                memory_max, memory_dir = int(text), level
    cpu = _v1_directory(root, "cpu", owned["cpu"]) if "cpu" in owned else None
    if cpu is not None:
        path = path or cpu
        top = _v1_directory(root, "cpu", "/") or cpu
        for level in _ancestry(cpu, top):
            quota = _read(os.path.join(level, "cpu.cfs_quota_us"))
            period = _read(os.path.join(level, "cpu.cfs_period_us"))
            try:
                share = int(quota or "-1") / int(period or "100000")
            except (ValueError, ZeroDivisionError):
                continue
            if share > 0 and (cpu_quota is None or share < cpu_quota):
                cpu_quota = share
    cpuset_dir = _v1_directory(root, "cpuset", owned["cpuset"]) if "cpuset" in owned else None
    if cpuset_dir is not None:
        for name in ("cpuset.effective_cpus", "cpuset.cpus"):
            text = _read(os.path.join(cpuset_dir, name))
            if text:
                cpuset = parse_cpuset(text)
                break
    if path is None:
        return None
    return CgroupLimits(path, memory_max, memory_dir, cpu_quota, cpuset, cpus, version=1)


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
    if relative is None or not os.path.exists(os.path.join(root, "cgroup.controllers")):
        v1 = _read_v1_limits(pid, root, proc, cpus)
        if v1 is not None:
            return v1
        reason = (
            "process is in no cgroup"
            if relative is None
            else f"no cgroup v2 hierarchy mounted at {root} and no v1 memory or cpu tree"
        )
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
    return CgroupLimits(directory, memory_max, memory_dir, cpu_quota, cpuset, cpus, version=2)


class CgroupMemory:
    """The working set of the cgroup whose limit binds: usage less inactive file pages.

    v2: `memory.current` and `inactive_file` of `memory.stat`; v1:
    `memory.usage_in_bytes` and `total_inactive_file` (the hierarchy's, as
    the usage is). A cgroup without `memory.stat` subtracts nothing.
    """

    def __init__(self, directory: str, version: int = 2) -> None:
        usage, self._key = (
            ("memory.current", b"inactive_file")
            if version == 2
            else ("memory.usage_in_bytes", b"total_inactive_file")
        )
        self._fd: int | None = os.open(os.path.join(directory, usage), os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._stat: int | None = os.open(
                os.path.join(directory, "memory.stat"), os.O_RDONLY | os.O_CLOEXEC
            )
        except OSError:
            self._stat = None

    def inactive_file(self) -> int:
        if self._stat is None:
            return 0
        data = b"\n" + os.pread(self._stat, 16384, 0)
        at = data.find(b"\n" + self._key + b" ")
        if at < 0:
            return 0
        start = at + len(self._key) + 2
        end = data.find(b"\n", start)
        return int(data[start : end if end >= 0 else None])

    def current(self) -> int:
        """Bytes in use, page cache the kernel can reclaim at once left out."""
        if self._fd is None:
            raise ValueError("memory usage reader is closed")
        usage = int(os.pread(self._fd, 64, 0))
        return max(usage - self.inactive_file(), 0)

    def close(self) -> None:
        for fd in (self._fd, self._stat):
            if fd is not None:
                os.close(fd)
        self._fd = self._stat = None
