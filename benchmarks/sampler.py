"""A running labdeck monitor against a plain psutil loop, recorder on.

Measured, not asserted (issue: sampler cost and memory).

    python benchmarks/sampler.py [--seconds 60] [--intervals 1,0.2] [--hours 1] [--rate 10]
                                 [--database-url URL] [--no-tight] [--no-memory]

1. At each interval (1 s and 0.2 s) for SECONDS each, one after the other
   in one process otherwise idle: a plain psutil thread reading the psutil
   keys of docs/metrics.md, then a real `labdeck.monitor()` (sampler thread
   plus the recorder writing batches to a SQLite file every 5 s, or to the
   database at URL, an existing one that it adds runs to). Cost per sample is
   the process CPU time (`time.process_time()`, every thread) over the phase
   divided by the samples taken, so the recorder's writes are counted.
2. Back-to-back, no sleep: one plain sample against one labdeck sample
   (host collector), CPU time per sample.
3. Memory over a long run, time compressed: HOURS at RATE Hz of samples
   driven through the same sampler and recorder as fast as they go, the
   recorder flushing every 5 s of run time; resident memory at checkpoints.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from sampler_tight_loop import plain_sampler  # noqa: E402

from labdeck.backend.config import Settings  # noqa: E402
from labdeck.backend.context import Backend  # noqa: E402
from labdeck.kernel.session import Monitor  # noqa: E402


def plain_phase(seconds: float, interval: float = 1.0) -> float:
    sample = plain_sampler(["/"])
    stop = threading.Event()
    taken = 0

    def loop() -> None:
        nonlocal taken
        deadline = time.monotonic()
        while not stop.is_set():
            sample()
            taken += 1
            deadline += interval
            stop.wait(max(0.0, deadline - time.monotonic()))

    start = time.process_time()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return (time.process_time() - start) / taken * 1000


def monitor_phase(
    backend: Backend, seconds: float, interval: float = 1.0
) -> tuple[float, int, float, float]:
    """Steady-state CPU per sample (sampler and recorder threads, every write
    included), and the one-off cost of starting and stopping the run."""
    settings = Settings(sample_interval=interval, flush_interval=5.0)
    monitor = Monitor("bench", interval=interval, backend=backend, settings=settings)
    begin = time.process_time()
    monitor.start()
    time.sleep(min(1.0, seconds / 4))  # past the early first full sample
    started = time.process_time()
    first = int(monitor.status()["samples_taken"])
    time.sleep(seconds)
    before_stop = time.process_time()
    taken = int(monitor.status()["samples_taken"]) - first
    monitor.stop()
    end = time.process_time()
    return (before_stop - started) / taken * 1000, taken, started - begin, end - before_stop


def tight_phase(backend: Backend, samples: int) -> tuple[float, float]:
    plain = plain_sampler(["/"])
    settings = Settings(sample_interval=1.0, flush_interval=5.0)
    monitor = Monitor("tight", interval=1.0, backend=backend, settings=settings)
    monitor.start()
    assert monitor.sampler is not None
    monitor.sampler.pause()
    results = []
    for fn in (plain, lambda: monitor.sampler.sample_once() if monitor.sampler else None):
        fn()
        start = time.process_time()
        for _ in range(samples):
            fn()
        results.append((time.process_time() - start) / samples * 1000)
    monitor.stop()
    return results[0], results[1]


def memory_phase(backend: Backend, hours: float, rate: float) -> list[tuple[float, float]]:
    settings = Settings(sample_interval=1.0 / rate, flush_interval=5.0)
    monitor = Monitor("memory", interval=1.0 / rate, backend=backend, settings=settings)
    monitor.start()
    assert monitor.sampler is not None and monitor.recorder is not None
    monitor.sampler.pause()
    recorder, sampler = monitor.recorder, monitor.sampler
    process = psutil.Process()
    total = int(hours * 3600 * rate)
    per_flush = int(5 * rate)
    checkpoints = []
    t0 = time.time()
    for i in range(total):
        _, values = sampler.sample_once()
        recorder(t0 + i / rate, values)
        if i % per_flush == per_flush - 1:
            recorder.flush()
        if i % int(600 * rate) == 0:
            gc.collect()
            checkpoints.append((i / rate / 60, process.memory_info().rss / 2**20))
    monitor.stop()
    gc.collect()
    checkpoints.append((total / rate / 60, process.memory_info().rss / 2**20))
    return checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--intervals", default="1,0.2", help="comma-separated seconds")
    parser.add_argument("--database-url", help="record into this database instead of SQLite")
    parser.add_argument("--no-tight", action="store_true", help="skip the back-to-back phase")
    parser.add_argument("--no-memory", action="store_true", help="skip the long-run memory phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTERHUB_USER"] = "bench"
        backend = Backend.open(args.database_url or f"sqlite:///{tmp}/bench.db")
        baseline_rss = psutil.Process().memory_info().rss / 2**20
        for interval in (float(x) for x in args.intervals.split(",")):
            plain = plain_phase(args.seconds, interval)
            labdeck, taken, start_cost, stop_cost = monitor_phase(backend, args.seconds, interval)
            print(
                f"every {interval:g} s for {args.seconds:.0f} s each "
                "(process CPU per sample, recorder on):"
            )
            print(f"  plain psutil loop        {plain:7.3f} ms")
            print(f"  labdeck monitor          {labdeck:7.3f} ms   ({taken} samples)")
            print(f"  ratio labdeck / plain    {labdeck / plain:7.2f}   (target <= 1.0)")
            print(
                f"  one-off: start {start_cost * 1000:.0f} ms (probe collectors, create the run), "
                f"stop {stop_cost * 1000:.0f} ms (closing sample, last write, end the run)"
            )
        if args.no_tight:
            return
        tight_plain, tight_labdeck = tight_phase(backend, args.samples)
        print(f"back-to-back, {args.samples} samples each (CPU per sample):")
        print(f"  plain psutil             {tight_plain:7.3f} ms")
        print(f"  labdeck host collector   {tight_labdeck:7.3f} ms")
        print(f"  ratio                    {tight_labdeck / tight_plain:7.2f}")
        if args.no_memory:
            return
        points = memory_phase(backend, args.hours, args.rate)
        print(
            f"memory, {args.hours:g} h at {args.rate:g} Hz in compressed time "
            f"(resident MB; {baseline_rss:.1f} MB before any monitor):"
        )
        for minute, rss in points:
            print(f"  after {minute:5.0f} min   {rss:7.1f} MB")
        growth = points[-1][1] - points[1][1] if len(points) > 2 else 0.0
        print(f"  growth from 10 min to the end: {growth:+.1f} MB")


if __name__ == "__main__":
    main()
