"""cgroup v2 limits read from a fake hierarchy, and the host collector taking them into account."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labdeck.kernel.collectors.base import SamplerConfig
from labdeck.kernel.collectors.cgroup import (
    CgroupMemory,
    parse_cpu_max,
    parse_cpuset,
    read_cgroup_limits,
)
from labdeck.kernel.collectors.host import MB, HostCollector

GIB = 1024**3


def _write(directory: Path, **files: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("_", ".")).write_text(text + "\n")


def _hierarchy(tmp_path: Path, own: str) -> tuple[Path, Path]:
    """A cgroup2 mount at tmp/cgroup, and tmp/proc/123/cgroup naming `own`."""
    root = tmp_path / "cgroup"
    _write(root, cgroup_controllers="cpuset cpu io memory pids")
    proc = tmp_path / "proc"
    (proc / "123").mkdir(parents=True)
    (proc / "123" / "cgroup").write_text(f"0::{own}\n")
    return root, proc


def test_parse_cpu_max() -> None:
    assert parse_cpu_max("max 100000") is None
    assert parse_cpu_max("150000 100000") == 1.5
    assert parse_cpu_max("50000 100000") == 0.5
    assert parse_cpu_max("200000") == 2.0  # the period defaults to 100000


def test_parse_cpuset() -> None:
    assert parse_cpuset("0-3") == 4
    assert parse_cpuset("0-3,6,8-9") == 7
    assert parse_cpuset("5") == 1
    assert parse_cpuset("") is None


def test_tightest_limit_on_the_path_to_the_root(tmp_path: Path) -> None:
    root, proc = _hierarchy(tmp_path, "/kubepods/pod1/ctr")
    _write(root / "kubepods", memory_max="max", cpu_max="max 100000")
    _write(root / "kubepods" / "pod1", memory_max=str(2 * GIB), cpu_max="150000 100000")
    _write(
        root / "kubepods" / "pod1" / "ctr",
        memory_max="max",
        cpu_max="max 100000",
        cpuset_cpus_effective="0-3",
        memory_current=str(GIB),
    )

    limits = read_cgroup_limits(123, root=str(root), proc=str(proc), host_cpus=16)

    assert limits.path == str(root / "kubepods" / "pod1" / "ctr")
    assert limits.memory_max == 2 * GIB
    assert limits.memory_dir == str(root / "kubepods" / "pod1")
    assert limits.cpu_quota == 1.5
    assert limits.cpuset_cpus == 4
    assert limits.usable_cpus == 1.5
    assert limits.info()["usable_cpus"] == 1.5


def test_cpuset_narrower_than_quota(tmp_path: Path) -> None:
    root, proc = _hierarchy(tmp_path, "/")
    _write(root, cpu_max="800000 100000", cpuset_cpus_effective="2,5")

    limits = read_cgroup_limits(123, root=str(root), proc=str(proc), host_cpus=64)

    assert (limits.cpu_quota, limits.cpuset_cpus, limits.usable_cpus) == (8.0, 2, 2.0)
    assert limits.memory_max is None


def test_container_without_cgroup_namespace_uses_the_mounted_root(tmp_path: Path) -> None:
    root, proc = _hierarchy(tmp_path, "/system.slice/docker-4f1c.scope")
    _write(root, memory_max=str(4 * GIB))

    limits = read_cgroup_limits(123, root=str(root), proc=str(proc), host_cpus=8)

    assert limits.path == str(root) and limits.memory_max == 4 * GIB


def test_no_cgroup_v2_is_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    (root / "memory").mkdir(parents=True)  # a v1 layout: controllers as directories
    proc = tmp_path / "proc"
    (proc / "123").mkdir(parents=True)
    (proc / "123" / "cgroup").write_text("4:memory:/user.slice\n0::/user.slice\n")

    limits = read_cgroup_limits(123, root=str(root), proc=str(proc), host_cpus=4)

    assert limits.path is None and limits.usable_cpus == 4.0
    assert "cgroup v1" in limits.reason

    (proc / "123" / "cgroup").write_text("4:memory:/user.slice\n")
    assert "not in a cgroup v2" in read_cgroup_limits(123, str(root), str(proc), 4).reason


def test_memory_current_is_re_read(tmp_path: Path) -> None:
    _write(tmp_path, memory_current="1048576")
    reader = CgroupMemory(str(tmp_path))
    assert reader.current() == 1048576
    (tmp_path / "memory.current").write_text("2097152\n")
    assert reader.current() == 2097152
    reader.close()
    reader.close()


def test_host_percentages_against_the_cgroup(tmp_path: Path) -> None:
    text = Path("/proc/self/cgroup").read_text() if os.path.exists("/proc/self/cgroup") else ""
    if not any(line.startswith("0::") for line in text.splitlines()):
        pytest.skip("this process is in no cgroup v2 entry")
    root = tmp_path / "cgroup"
    _write(
        root,
        cgroup_controllers="cpu memory",
        memory_max=str(GIB),
        memory_current=str(GIB // 4),
        cpu_max="50000 100000",
    )
    collector = HostCollector(SamplerConfig(), cgroup_root=str(root))
    assert collector.probe().present
    try:
        values = collector.sample()
        info = collector.info()
    finally:
        collector.close()

    assert values["memory"] == pytest.approx(25.0)
    assert values["proc.memory.percent"] == pytest.approx(
        values["proc.memory.rssMB"] * MB / GIB * 100
    )
    assert values["proc.memory.availableMB"] <= GIB * 0.75 / MB
    assert info["memory_basis"] == "cgroup memory.max"
    cgroup = info["cgroup"]
    assert isinstance(cgroup, dict)
    assert cgroup["memory_max_bytes"] == GIB and cgroup["usable_cpus"] == 0.5
