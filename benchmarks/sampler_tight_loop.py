"""CPU cost of one host + process sample: a plain psutil loop against labdeck's sampler.

Measured, not asserted. The plain loop makes the psutil calls a monitor would
make for the psutil keys of docs/metrics.md, for the monitored process only
(no child discovery, which would cost it milliseconds per sample); labdeck's
host collector also walks the process tree and reads cgroup limits.

    python benchmarks/sampler_tight_loop.py [SECONDS] [--samples N]

1. Back-to-back: N samples each, in alternating rounds, CPU time from
   `time.process_time()`.
2. At a 1 s interval for SECONDS (default 60): labdeck's own sampler thread
   and a plain psutil thread run side by side, half a second apart; each
   sample's cost is the thread CPU (`time.thread_time()`) its thread spent
   since the previous one, wake-up included.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import psutil

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("kernel", "backend")]

from labdeck.kernel.collectors.base import SamplerConfig  # noqa: E402
from labdeck.kernel.collectors.host import HostCollector  # noqa: E402
from labdeck.kernel.sampler import Sampler  # noqa: E402


def plain_sampler(paths: list[str]) -> Callable[[], dict[str, float]]:
    """The psutil reads of the psutil keys in metrics.csv, the straightforward way."""
    process = psutil.Process()
    psutil.cpu_percent(percpu=True)
    process.cpu_percent()
    cpus = psutil.cpu_count() or 1
    first_disk = psutil.disk_io_counters()
    first_net = psutil.net_io_counters()

    def sample() -> dict[str, float]:
        values: dict[str, float] = {}
        for i, share in enumerate(psutil.cpu_percent(percpu=True)):
            values[f"cpu.{i}.cpu_percent"] = share
        values["cpu"] = process.cpu_percent() / cpus
        values["proc.cpu.threads"] = process.num_threads()
        for path in paths:
            usage = psutil.disk_usage(path)
            values[f"disk.{path}.usagePercent"] = usage.percent
            values[f"disk.{path}.usageGB"] = usage.used / 1024**3
        disk = psutil.disk_io_counters()
        if disk and first_disk:
            values["disk.in"] = (disk.read_bytes - first_disk.read_bytes) / 1024**2
            values["disk.out"] = (disk.write_bytes - first_disk.write_bytes) / 1024**2
        values["proc.memory.rssMB"] = process.memory_info().rss / 1024**2
        values["proc.memory.percent"] = process.memory_percent()
        memory = psutil.virtual_memory()
        values["memory"] = memory.percent
        values["proc.memory.availableMB"] = memory.available / 1024**2
        net = psutil.net_io_counters()
        values["network.sent"] = net.bytes_sent - first_net.bytes_sent
        values["network.recv"] = net.bytes_recv - first_net.bytes_recv
        return values

    return sample


def labdeck_sampler(config: SamplerConfig, procfs: bool | None) -> Sampler:
    sampler = Sampler([HostCollector(config, procfs=procfs)], config)
    if sampler.skipped:
        raise SystemExit(f"host collector unavailable: {sampler.skipped}")
    return sampler


def back_to_back(samples: int, config: SamplerConfig) -> None:
    contenders: dict[str, Callable[[], object]] = {"plain psutil": plain_sampler(config.disk_paths)}
    samplers = [labdeck_sampler(config, None)]
    contenders["labdeck"] = samplers[0].sample_once
    if sys.platform.startswith("linux"):
        samplers.append(labdeck_sampler(config, False))
        contenders["labdeck (psutil reader)"] = samplers[1].sample_once
    rounds = 5
    per_round = max(samples // rounds, 1)
    costs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, sample in contenders.items():
            sample()
            start = time.process_time()
            for _ in range(per_round):
                sample()
            costs[name].append((time.process_time() - start) / per_round * 1000)
    baseline = statistics.median(costs["plain psutil"])
    print(f"back-to-back, {per_round * rounds} samples each (median of {rounds} rounds):")
    for name, values in costs.items():
        cost = statistics.median(values)
        print(f"  {name:26s} {cost:7.3f} ms CPU/sample   ratio {cost / baseline:5.2f}")
    for sampler in samplers:
        sampler.stop()


def at_one_hertz(seconds: float, config: SamplerConfig) -> None:
    plain = plain_sampler(config.disk_paths)
    plain_marks: list[float] = []
    labdeck_marks: list[float] = []
    stop = threading.Event()

    def plain_thread() -> None:
        plain_marks.append(time.thread_time())
        origin = time.monotonic() + 0.5
        tick = 0
        while not stop.wait(max(origin + tick - time.monotonic(), 0)):
            plain()
            plain_marks.append(time.thread_time())
            tick += 1

    def mark(stamp: float, values: dict[str, float]) -> None:
        labdeck_marks.append(time.thread_time())

    sampler = Sampler(
        [HostCollector(config)], SamplerConfig(interval=1.0, disk_paths=config.disk_paths), [mark]
    )
    worker = threading.Thread(target=plain_thread, daemon=True)
    sampler.start()
    worker.start()
    time.sleep(seconds)
    stop.set()
    sampler.stop()
    worker.join()
    # The first labdeck mark follows the first sample; costs count from there on.
    plain_costs = [(b - a) * 1000 for a, b in pairwise(plain_marks)]
    labdeck_costs = [(b - a) * 1000 for a, b in pairwise(labdeck_marks)]
    print(f"1 s interval over {seconds:.0f} s, thread CPU per sample (wake-up included):")
    baseline = statistics.mean(plain_costs)
    for name, costs in (("plain psutil", plain_costs), ("labdeck sampler", labdeck_costs)):
        mean = statistics.mean(costs)
        print(
            f"  {name:26s} median {statistics.median(costs):6.3f}  mean {mean:6.3f} ms"
            f"  ({len(costs)} samples)   ratio {mean / baseline:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=2000, help="back-to-back samples each")
    args = parser.parse_args()
    config = SamplerConfig(interval=1.0)
    print(
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"psutil {psutil.__version__}, {os.cpu_count()} CPUs, {len(psutil.pids())} processes"
    )
    back_to_back(args.samples, config)
    at_one_hertz(args.seconds, config)


if __name__ == "__main__":
    main()
