"""Host and process metrics (`cpu`, `memory`, `disk.*`, `network.*`, `proc.*`).

The monitor runs in the user's kernel, so its cost is the user's. On Linux
the collector keeps /proc files open and re-reads them with `pread`, and
sums whole disks from /proc/diskstats without psutil's per-line /sys/block
probe; elsewhere (or with `procfs=False`) it reads the same values through
psutil.

Process figures cover the process and its descendants (`proctree`), whose
tree is refreshed at every sample (at most every `TREE_REFRESH_S`), and
count every CPU-second the tree spent, reaped children included. RSS is
summed over the tree, so pages shared after a fork count once per process.
Under a cgroup memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`),
`memory` is the cgroup's usage less its inactive file pages, over the limit:
the working set `docker stats` and `kubectl top` show (see cgroup.py).
How each number is measured, for users: docs/sampling.md.
"""

from __future__ import annotations

import os
import sys
import time

import psutil

from .base import Collector, Probe, SamplerConfig
from .cgroup import DEFAULT_ROOT, CgroupLimits, CgroupMemory, read_cgroup_limits
from .proctree import ProcFile, ProcfsTree, PsutilTree

MB = 1024.0 * 1024.0
GB = MB * 1024.0
TREE_REFRESH_S = 0.0
_SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size


class _ProcfsSystem:
    """System-wide counters from /proc, parsed the way psutil does."""

    def __init__(self) -> None:
        self._stat = ProcFile("/proc/stat", 16384)
        self._meminfo = ProcFile("/proc/meminfo", 8192)
        self._diskstats = ProcFile("/proc/diskstats", 16384)
        self._netdev = ProcFile("/proc/net/dev", 8192)
        self._whole_disk: dict[bytes, bool] = {}

    def per_cpu(self) -> list[tuple[int, float, float]]:
        cores = []
        # The first line is the all-CPU total; per-core lines follow, then "intr".
        for line in self._stat.read().split(b"\n")[1:]:
            if not line.startswith(b"cpu"):
                break
            fields = line.split()
            # user nice system idle iowait irq softirq steal; guest is already in user.
            values = [int(v) for v in fields[1:9]]
            total = float(sum(values))
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            cores.append((int(fields[0][3:]), total - idle, total))
        return cores

    def memory(self) -> tuple[int, int]:
        # MemTotal, MemFree and MemAvailable (Linux >= 3.14) open the file.
        head = dict(line.split(b":", 1) for line in self._meminfo.read().split(b"\n", 3)[:3])
        return int(head[b"MemTotal"].split()[0]) * 1024, int(
            head[b"MemAvailable"].split()[0]
        ) * 1024

    def _is_whole_disk(self, name: bytes) -> bool:
        known = self._whole_disk.get(name)
        if known is None:
            device = name.decode(errors="replace").replace("/", "!")
            known = self._whole_disk[name] = os.path.exists(f"/sys/block/{device}")
        return known

    def disk_io(self) -> tuple[int, int]:
        read = written = 0
        for line in self._diskstats.read().split(b"\n"):
            fields = line.split()
            if len(fields) >= 14 and self._is_whole_disk(fields[2]):
                read += int(fields[5])
                written += int(fields[9])
        return read * _SECTOR, written * _SECTOR

    def net_io(self) -> tuple[int, int]:
        sent = recv = 0
        for line in self._netdev.read().split(b"\n")[2:]:
            _, _, counters = line.partition(b":")
            fields = counters.split()
            if len(fields) >= 9:
                recv += int(fields[0])
                sent += int(fields[8])
        return sent, recv

    def close(self) -> None:
        for handle in (self._stat, self._meminfo, self._diskstats, self._netdev):
            handle.close()


class _PsutilSystem:
    """System-wide counters through psutil, for platforms without /proc."""

    def per_cpu(self) -> list[tuple[int, float, float]]:
        cores = []
        for index, times in enumerate(psutil.cpu_times(percpu=True)):
            total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
            idle = times.idle + getattr(times, "iowait", 0.0)
            cores.append((index, total - idle, total))
        return cores

    def memory(self) -> tuple[int, int]:
        memory = psutil.virtual_memory()
        return int(memory.total), int(memory.available)

    def disk_io(self) -> tuple[int, int]:
        counters = psutil.disk_io_counters()
        return (counters.read_bytes, counters.write_bytes) if counters else (0, 0)

    def net_io(self) -> tuple[int, int]:
        counters = psutil.net_io_counters()
        return counters.bytes_sent, counters.bytes_recv

    def close(self) -> None:
        return None


def _memory_basis(limits: CgroupLimits | None) -> str:
    limit = "memory.max" if limits is not None and limits.version == 2 else "memory.limit_in_bytes"
    return f"cgroup {limit}, usage less inactive file pages"


class HostCollector(Collector):
    """psutil-compatible host and process metrics, against cgroup limits when there are any."""

    name = "host"

    def __init__(
        self,
        config: SamplerConfig,
        procfs: bool | None = None,
        cgroup_root: str = DEFAULT_ROOT,
    ) -> None:
        self._pid = config.pid
        self._since = config.since
        self._paths = list(config.disk_paths)
        self._procfs = sys.platform.startswith("linux") if procfs is None else procfs
        self._cgroup_root = cgroup_root
        self._system: _ProcfsSystem | _PsutilSystem | None = None
        self._tree: ProcfsTree | PsutilTree | None = None
        self._limits: CgroupLimits | None = None
        self._cgroup_memory: CgroupMemory | None = None
        self._skipped_paths: dict[str, str] = {}
        self._disk_keys: list[tuple[str, str, str]] = []
        self._cpu_keys: dict[int, str] = {}
        self._prev_cpu: dict[int, tuple[float, float]] | None = None
        self._prev_time: float | None = None
        self._next_scan = 0.0
        self._memory_limit: int | None = None
        self._base: tuple[int, int, int, int] | None = None
        self._cpu_total = 0.0

    def probe(self) -> Probe:
        if not psutil.pid_exists(self._pid):
            return Probe(False, f"process {self._pid} does not exist")
        try:
            self._system = _ProcfsSystem() if self._procfs else _PsutilSystem()
            tree = ProcfsTree if self._procfs else PsutilTree
            self._tree = tree(self._pid, self._since)
        except (OSError, psutil.Error) as exc:
            self.close()
            return Probe(False, f"cannot read process {self._pid}: {exc}")
        if self._since is not None:
            # CPU counts from `since`: the first sample's `cpu` spans from then.
            self._prev_time = time.monotonic() - max(time.time() - self._since, 0.0)
        self._limits = read_cgroup_limits(self._pid, root=self._cgroup_root)
        limit, directory = self._limits.memory_max, self._limits.memory_dir
        if limit is not None and directory is not None and limit < self._system.memory()[0]:
            try:
                self._cgroup_memory = CgroupMemory(directory, self._limits.version or 2)
                self._memory_limit = limit
            except OSError:
                self._cgroup_memory = None
        for path in self._paths:
            try:
                psutil.disk_usage(path)
            except OSError as exc:
                self._skipped_paths[path] = str(exc)
                continue
            self._disk_keys.append((path, f"disk.{path}.usagePercent", f"disk.{path}.usageGB"))
        return Probe(True)

    def sample(self) -> dict[str, float]:
        system, tree, limits = self._system, self._tree, self._limits
        if system is None or tree is None or limits is None:
            raise RuntimeError("host collector sampled before a successful probe")
        now = time.monotonic()
        values: dict[str, float] = {}
        cores = system.per_cpu()
        previous = self._prev_cpu
        if previous is not None:
            for index, busy, total in cores:
                before = previous.get(index)
                if before is None:
                    continue
                key = self._cpu_keys.get(index)
                if key is None:
                    key = self._cpu_keys[index] = f"cpu.{index}.cpu_percent"
                span = total - before[1]
                share = (busy - before[0]) / span * 100.0 if span > 0 else 0.0
                values[key] = min(max(share, 0.0), 100.0)
        self._prev_cpu = {index: (busy, total) for index, busy, total in cores}

        if now >= self._next_scan:
            self._next_scan = now + TREE_REFRESH_S
            tree.refresh()
        cpu_seconds, threads, rss = tree.read()
        if self._prev_time is not None and now > self._prev_time:
            values["cpu"] = cpu_seconds / (now - self._prev_time) / limits.usable_cpus * 100.0
        self._prev_time = now
        # The counter the per-cell ledger differences (ledger.py): CPU time of
        # the tree since the first sample, never a percentage integrated.
        self._cpu_total += cpu_seconds
        values["proc.cpu.seconds"] = self._cpu_total
        values["proc.cpu.threads"] = float(threads)
        values["proc.memory.rssMB"] = rss / MB

        total, available = system.memory()
        limit = self._memory_limit
        if limit is not None and self._cgroup_memory is not None:
            used = self._cgroup_memory.current()
            values["memory"] = used / limit * 100.0
            values["proc.memory.availableMB"] = min(available, max(limit - used, 0)) / MB
            values["proc.memory.percent"] = rss / limit * 100.0
        else:
            values["memory"] = (total - available) / total * 100.0
            values["proc.memory.availableMB"] = available / MB
            values["proc.memory.percent"] = rss / total * 100.0

        for path, percent_key, gb_key in self._disk_keys:
            try:
                usage = psutil.disk_usage(path)
            except OSError:
                continue  # unmounted since the start: this path sits this sample out
            values[percent_key] = usage.percent
            values[gb_key] = usage.used / GB
        counters = (*system.disk_io(), *system.net_io())
        if self._base is None:
            self._base = counters  # disk and network count from the first sample
        read, written, sent, recv = (c - b for c, b in zip(counters, self._base, strict=True))
        values["disk.in"] = read / MB
        values["disk.out"] = written / MB
        values["network.sent"] = float(sent)
        values["network.recv"] = float(recv)
        return values

    def info(self) -> dict[str, object]:
        limits = self._limits
        limited = self._memory_limit is not None
        return {
            "pid": self._pid,
            # Unix time the first sample's `cpu` spans from (None: from the first sample).
            "cpu_since": self._since,
            "disk_paths": [path for path, _, _ in self._disk_keys],
            "skipped_disk_paths": dict(self._skipped_paths),
            "reader": "procfs" if self._procfs else "psutil",
            "memory_basis": _memory_basis(limits) if limited else "host total",
            "cgroup": limits.info() if limits else None,
        }

    def close(self) -> None:
        for resource in (self._system, self._tree, self._cgroup_memory):
            if resource is not None:
                resource.close()
        self._system = self._tree = self._cgroup_memory = None
