"""cgroup v2 limits read from a fake hierarchy, and the host collector taking them into account."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def _write_v1(directory: Path, **files: str) -> None:
    """v1 names: the first `_` is the dot (`memory_limit_in_bytes`: `memory.limit_in_bytes`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("_", ".", 1)).write_text(text + "\n")


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


def test_v1_layout_without_limits_is_read_as_v1(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    (root / "memory").mkdir(parents=True)  # a v1 layout: controllers as directories
    proc = tmp_path / "proc"
    (proc / "123").mkdir(parents=True)
    (proc / "123" / "cgroup").write_text("4:memory:/user.slice\n0::/user.slice\n")

    limits = read_cgroup_limits(123, root=str(root), proc=str(proc), host_cpus=4)

    # /user.slice is not in this mount: the container's own tree is its root.
    assert limits.version == 1 and limits.path == str(root / "memory")
    assert limits.memory_max is None and limits.usable_cpus == 4.0

    (proc / "123" / "cgroup").write_text("")
    reason = read_cgroup_limits(123, str(root), str(proc), 4).reason
    assert limits.info()["cgroup_version"] == 1 and "no cgroup" in reason


def _v1_hierarchy(tmp_path: Path, own: str) -> tuple[Path, Path]:
    """A hybrid host's v1 trees (memory, cpu,cpuacct, cpuset) and an empty v2 one."""
    root = tmp_path / "cgroup"
    for controller in ("memory", "cpu,cpuacct", "cpuset", "unified"):
        (root / controller).mkdir(parents=True)
    proc = tmp_path / "proc"
    (proc / "123").mkdir(parents=True)
    (proc / "123" / "cgroup").write_text(
        f"9:name=systemd:/\n4:memory:{own}\n3:cpuset:{own}\n2:cpu,cpuacct:{own}\n0::/\n"
    )
    return root, proc


def test_v1_limits_tightest_on_the_path_to_the_root(tmp_path: Path) -> None:
    root, proc = _v1_hierarchy(tmp_path, "/kubepods/pod1/ctr")
    unlimited = "9223372036854771712"  # what v1 says for "no limit"
    memory, cpu = root / "memory" / "kubepods", root / "cpu,cpuacct" / "kubepods"
    _write_v1(root / "memory", memory_limit_in_bytes=unlimited)
    _write_v1(memory, memory_limit_in_bytes=unlimited)
    _write_v1(memory / "pod1", memory_limit_in_bytes=str(3 * GIB))
    _write_v1(memory / "pod1" / "ctr", memory_limit_in_bytes=str(5 * GIB))
    _write_v1(cpu, cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    _write_v1(cpu / "pod1", cpu_cfs_quota_us="250000", cpu_cfs_period_us="100000")
    _write_v1(cpu / "pod1" / "ctr", cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    _write_v1(root / "cpuset" / "kubepods" / "pod1" / "ctr", cpuset_effective_cpus="0-5")

    limits = read_cgroup_limits(123, root=str(root), proc=str(proc), host_cpus=16)

    assert limits.version == 1
    assert limits.memory_max == 3 * GIB and limits.memory_dir == str(memory / "pod1")
    assert limits.cpu_quota == 2.5 and limits.cpuset_cpus == 6
    assert limits.usable_cpus == 2.5


def test_working_set_leaves_out_inactive_file_pages(tmp_path: Path) -> None:
    """As `docker stats` and `kubectl top`: usage less inactive file pages."""
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    _write(v2, memory_current=str(GIB))
    (v2 / "memory.stat").write_text(
        f"anon 1000\nfile {GIB // 2}\nactive_file 4096\ninactive_file {GIB // 4}\n"
    )
    _write_v1(v1, memory_usage_in_bytes=str(GIB))
    (v1 / "memory.stat").write_text(
        f"cache 5\ninactive_file 8192\ntotal_cache 9\ntotal_inactive_file {GIB // 8}\n"
    )

    assert CgroupMemory(str(v2), 2).current() == GIB - GIB // 4
    assert CgroupMemory(str(v1), 1).current() == GIB - GIB // 8  # the hierarchy's figure


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
    assert info["memory_basis"] == "cgroup memory.max, usage less inactive file pages"
    cgroup = info["cgroup"]
    assert isinstance(cgroup, dict)
    assert cgroup["memory_max_bytes"] == GIB and cgroup["usable_cpus"] == 0.5


_IN_NAMESPACE = """
import json
from labdeck.kernel.collectors.base import SamplerConfig
from labdeck.kernel.collectors.host import HostCollector
collector = HostCollector(SamplerConfig())  # the default root: /sys/fs/cgroup
assert collector.probe().present
values = collector.sample()
print(json.dumps({"memory": values["memory"], **collector.info()}))
collector.close()
"""


def _own_v1(controller: str) -> str | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_v1_limits_through_a_fake_root_in_a_private_mount_namespace(tmp_path: Path) -> None:
    """The host collector as a kernel runs it, default paths and all: a fake v1
    hierarchy is bind-mounted on /sys/fs/cgroup in a mount namespace of its own."""
    if not os.path.exists("/proc/self/cgroup") or _own_v1("memory") is None:
        pytest.skip("this host has no cgroup v1 memory controller line for this process")
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    root = tmp_path / "fake-cgroup"
    memory = root / "memory" / (_own_v1("memory") or "/").lstrip("/")
    _write_v1(root / "memory", memory_limit_in_bytes="9223372036854771712")
    _write_v1(memory, memory_limit_in_bytes=str(2 * GIB), memory_usage_in_bytes=str(GIB))
    (memory / "memory.stat").write_text(f"inactive_file 4096\ntotal_inactive_file {GIB // 4}\n")
    cpu = root / "cpu" / (_own_v1("cpu") or "/").lstrip("/")
    _write_v1(cpu, cpu_cfs_quota_us="150000", cpu_cfs_period_us="100000")
    script = f"mount --bind {root} /sys/fs/cgroup && exec {sys.executable} -c '{_IN_NAMESPACE}'"
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["memory"] == pytest.approx((GIB - GIB // 4) / (2 * GIB) * 100)
    assert seen["memory_basis"] == "cgroup memory.limit_in_bytes, usage less inactive file pages"
    assert seen["cgroup"]["cgroup_version"] == 1
    assert seen["cgroup"]["memory_max_bytes"] == 2 * GIB
    assert seen["cgroup"]["cpu_max_cpus"] == 1.5
    # The host itself is untouched: the mount lived in the namespace only.
    assert not os.path.exists("/sys/fs/cgroup/memory/memory.stat") or (
        Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").read_text().strip() != str(2 * GIB)
    )
