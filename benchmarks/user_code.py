"""How much a running monitor slows the user's own code (F-SM-1).

Measured, not asserted.

    python benchmarks/user_code.py [--rounds 7] [--seconds 3]

One process, many short rounds: each round times the same workloads with no
monitor and under a real `Monitor` (sampler and recorder writing to a SQLite
file every 5 s) at a 1 s and at a 0.1 s interval, the order of the modes
rotating from round to round. Two workloads: pure Python (holds the GIL, so
the sampler's thread competes with it for the interpreter) and numpy matrix
products (release the GIL). A shared machine's speed drifts by more than the
effect, so the slowdown is paired: each round's time against the no-monitor
time of the same round; printed are the median of those ratios and their
interquartile range (the noise the median stands in).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("kernel", "backend")]

from labdeck.backend.context import Backend  # noqa: E402
from labdeck.kernel.session import Monitor  # noqa: E402
from labdeck.kernel.settings import KernelSettings  # noqa: E402


def python_work(n: int) -> int:
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def numpy_work(n: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.random((256, 256))
    acc = 0.0
    for _ in range(n):
        acc += float((a @ a).sum())
    return acc


def calibrate(work: Callable[[int], object], seconds: float) -> int:
    """The size of `work` that takes about `seconds` here."""
    n = 1000
    while True:
        start = time.perf_counter()
        work(n)
        took = time.perf_counter() - start
        if took > 0.2:
            return max(int(n * seconds / took), 1)
        n *= 4


def timed(work: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    work(n)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each workload")
    args = parser.parse_args()
    workloads = {"pure Python": python_work, "numpy matmul": numpy_work}
    sizes = {name: calibrate(work, args.seconds) for name, work in workloads.items()}
    modes: dict[str, float | None] = {"no monitor": None, "monitor 1 s": 1.0, "monitor 0.1 s": 0.1}
    times: dict[tuple[str, str], list[float]] = {(w, m): [] for w in workloads for m in modes}
    order = list(modes.items())
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTERHUB_USER"] = "bench"
        backend = Backend.open(f"sqlite:///{tmp}/bench.db")
        for round_ in range(args.rounds):
            shift = round_ % len(order)
            for mode, interval in order[shift:] + order[:shift]:
                monitor = None
                if interval is not None:
                    settings = KernelSettings(interval=interval, flush_interval=5.0)
                    monitor = Monitor(
                        "user-code", interval=interval, backend=backend, settings=settings
                    )
                    monitor.start()
                for name, work in workloads.items():
                    times[name, mode].append(timed(work, sizes[name]))
                if monitor is not None:
                    monitor.stop()
    print(f"{args.rounds} rounds, each workload ~{args.seconds:g} s of wall time:")
    for name in workloads:
        base = times[name, "no monitor"]
        for mode in modes:
            runs = times[name, mode]
            ratios = [100 * (m / b - 1) for m, b in zip(runs, base, strict=True)]
            low, mid, high = statistics.quantiles(ratios, n=4)
            print(
                f"  {name:13s} {mode:14s} median {statistics.median(runs):6.3f} s"
                f"   slowdown {mid:+5.1f}%  (interquartile {low:+5.1f}% to {high:+5.1f}%)"
            )


if __name__ == "__main__":
    main()
