"""The per-cell ledger (F-SM-12): what each executed cell cost, computed from
the samples the monitor takes anyway (no extra sampling).

`CellLedger` is one more sink of the monitor (`Monitor.add_sink`): it keeps
the few keys it needs of the samples since the oldest cell still open, and
when a cell has ended and a sample at or after its end has arrived, it
reckons the cell's row:

- counters (`proc.cpu.seconds`, `disk.in`/`disk.out`, `network.sent`/`recv`,
  `gpu.{i}.energyJoules`) are read at the cell's start and end by linear
  interpolation between the samples around them, and differenced: a cell's
  CPU-seconds is the process tree's CPU time, never a percentage integrated;
- except the kernel process's own CPU time and RSS, which the ledger reads
  itself at the cell's start and end (`kernel_probe`: the CPU clock and
  `/proc/self/statm` through psutil, tens of microseconds, no sample).
  Interpolated, a 2 s burn was charged 1.7 CPU-s on a loaded machine (the
  sampling thread, waiting for the GIL the burning cell holds, reads the
  tree well after its sample's timestamp), and a 300 MB allocation made
  between two samples was charged to the next cell too. The children's
  and grandchildren's share (the tree's figure less the kernel's own, read
  as each sample arrives) is still taken from the samples;
- levels (`proc.memory.rssMB`, `gpu.{i}.memoryAllocatedBytes`) are taken at
  the last sample at or before the start and the first at or after the end;
  the peak is the largest sample between those two (with the kernel's own
  readings: the RSS at the start and end, and the peak the largest of those
  and of the samples taken during the cell);
- GPU utilization is the mean of the samples from the start to the first
  sample at or after the end (NVML reports each as an average over the last
  sample period);
- energy is NVML's total-energy counter where the GPU has one; otherwise
  `powerWatts` integrated over the cell (trapezoids), marked `estimated`.

A cell therefore waits for the next sample after its end (at most one sample
interval, or the closing sample at stop) before its row exists; the
precision of a short cell's figures is that of the interval. Disk and network
bytes are the system's counters (psutil's), as the `disk.*` and `network.*`
keys are.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

MB = 1024.0 * 1024.0
CPU = "proc.cpu.seconds"
# The tree's CPU time and RSS less the kernel's own (see the module's
# docstring): the ledger's own series, never metric keys.
CHILDREN_CPU = "ledger:children.cpu.seconds"
CHILDREN_RSS = "ledger:children.rssMB"
RSS = "proc.memory.rssMB"
COUNTERS_MB = {"disk_read_bytes": "disk.in", "disk_write_bytes": "disk.out"}
COUNTERS_BYTES = {"net_sent_bytes": "network.sent", "net_recv_bytes": "network.recv"}
_GPU_KEY = re.compile(r"gpu\.(\d+)\.(memoryAllocatedBytes|gpu|energyJoules|powerWatts)\Z")
_KEPT = frozenset(
    {CPU, RSS, CHILDREN_CPU, CHILDREN_RSS, *COUNTERS_MB.values(), *COUNTERS_BYTES.values()}
)

#: The fields of a ledger row, besides the marker's own (`execution_count`,
#: `first_line`, `start_t`, `end_t`, `error`); every figure may be None when
#: the key it comes from was not sampled.
USAGE_FIELDS = (
    "cpu_seconds",
    "rss_peak_bytes",
    "rss_delta_bytes",
    "disk_read_bytes",
    "disk_write_bytes",
    "net_sent_bytes",
    "net_recv_bytes",
    "gpus",
)

Done = Callable[[dict[str, Any]], None]


@dataclass
class _Series:
    t: list[float] = field(default_factory=list)
    v: list[float] = field(default_factory=list)

    def add(self, t: float, v: float) -> None:
        self.t.append(t)
        self.v.append(v)

    def counter_at(self, x: float) -> float:
        """The counter at `x`, interpolated between the samples around it
        (held at the first or last sample outside their span)."""
        t, v = self.t, self.v
        i = bisect.bisect_left(t, x)
        if i < len(t) and t[i] == x:
            return v[i]
        if i == 0:
            return v[0]
        if i == len(t):
            return v[-1]
        t0, t1 = t[i - 1], t[i]
        return v[i - 1] + (v[i] - v[i - 1]) * (x - t0) / (t1 - t0)

    def span(self, start: float, end: float) -> tuple[int, int]:
        """Indices of the last sample at or before `start` (else the first)
        and the first at or after `end` (else the last), inclusive."""
        t = self.t
        lo = max(bisect.bisect_right(t, start) - 1, 0)
        hi = min(bisect.bisect_left(t, end), len(t) - 1)
        return lo, max(hi, lo)

    def integral(self, start: float, end: float) -> float:
        """∫ v dt over [start, end], v linear between samples (trapezoids)."""
        if end <= start:
            return 0.0
        points = [start, *(x for x in self.t if start < x < end), end]
        values = [self.counter_at(x) for x in points]
        return sum(
            (values[k] + values[k + 1]) / 2.0 * (points[k + 1] - points[k])
            for k in range(len(points) - 1)
        )


def usage(
    samples: dict[str, _Series],
    start: float,
    end: float,
    own: tuple[Reading, Reading] | None = None,
) -> dict[str, Any]:
    """One cell's figures from the kept samples (see the module's docstring);
    `own`: the kernel's own (CPU-seconds, RSS MB) read at the cell's start
    and end."""

    def counter(key: str, scale: float = 1.0) -> float | None:
        series = samples.get(key)
        if series is None or not series.t:
            return None
        return max(series.counter_at(end) - series.counter_at(start), 0.0) * scale

    children_cpu, children_rss = samples.get(CHILDREN_CPU), samples.get(CHILDREN_RSS)
    if own is not None and children_cpu is not None and children_cpu.t:
        spent = max(children_cpu.counter_at(end) - children_cpu.counter_at(start), 0.0)
        cpu_seconds: float | None = max(own[1][0] - own[0][0], 0.0) + spent
    else:
        cpu_seconds = counter(CPU)
    row: dict[str, Any] = {"cpu_seconds": cpu_seconds}
    rss = samples.get(RSS)
    if own is not None and rss is not None and children_rss is not None and children_rss.t:
        at_start = own[0][1] + max(children_rss.counter_at(start), 0.0)
        at_end = own[1][1] + max(children_rss.counter_at(end), 0.0)
        during = [v for t, v in zip(rss.t, rss.v, strict=True) if start <= t <= end]
        row["rss_peak_bytes"] = int(max(at_start, at_end, *during) * MB)
        row["rss_delta_bytes"] = int((at_end - at_start) * MB)
    elif rss is not None and rss.t:
        lo, hi = rss.span(start, end)
        row["rss_peak_bytes"] = int(max(rss.v[lo : hi + 1]) * MB)
        row["rss_delta_bytes"] = int((rss.v[hi] - rss.v[lo]) * MB)
    else:
        row["rss_peak_bytes"] = row["rss_delta_bytes"] = None
    for name, key in COUNTERS_MB.items():
        value = counter(key, MB)
        row[name] = None if value is None else int(value)
    for name, key in COUNTERS_BYTES.items():
        value = counter(key)
        row[name] = None if value is None else int(value)
    gpus: list[dict[str, Any]] = []
    indices = sorted({int(m.group(1)) for key in samples if (m := _GPU_KEY.match(key))})
    for index in indices:
        prefix = f"gpu.{index}."
        gpu: dict[str, Any] = {"index": index}
        memory = samples.get(prefix + "memoryAllocatedBytes")
        if memory is not None and memory.t:
            lo, hi = memory.span(start, end)
            gpu["memory_peak_bytes"] = int(max(memory.v[lo : hi + 1]))
        else:
            gpu["memory_peak_bytes"] = None
        util = samples.get(prefix + "gpu")
        if util is not None and util.t:
            lo, hi = util.span(start, end)
            first = lo + 1 if util.t[lo] <= start and hi > lo else lo
            window = util.v[first : hi + 1]
            gpu["util_mean"] = sum(window) / len(window)
        else:
            gpu["util_mean"] = None
        energy, power = samples.get(prefix + "energyJoules"), samples.get(prefix + "powerWatts")
        if energy is not None and energy.t:
            gpu["energy_j"] = max(energy.counter_at(end) - energy.counter_at(start), 0.0)
            gpu["energy_estimated"] = False
        elif power is not None and power.t:
            gpu["energy_j"] = power.integral(start, end)
            gpu["energy_estimated"] = True
        else:
            gpu["energy_j"] = None
            gpu["energy_estimated"] = False
        gpus.append(gpu)
    row["gpus"] = gpus
    return row


#: The kernel process's own (CPU-seconds, RSS in MB), read by the ledger.
Reading = tuple[float, float]
_Pending = tuple[float, float, Done, tuple[Reading, Reading] | None]


def kernel_probe() -> Callable[[], Reading]:
    """The reader of this process's own CPU time (all its threads: the
    CPU clock) and RSS, for `CellLedger`."""
    process = psutil.Process()

    def read() -> Reading:
        return time.process_time(), process.memory_info().rss / MB

    return read


class CellLedger:
    """A sink `(t, values)` that reckons each closed cell's row once a
    sample at or after its end arrives (or at `finish`).

    `probe` (`kernel_probe()`): read at each cell's start and end and as
    each sample arrives; None (tests of the reckoning): CPU time and RSS are
    taken from the samples alone, like the other figures."""

    def __init__(self, probe: Callable[[], Reading] | None = None) -> None:
        self._probe = probe
        self._lock = threading.Lock()
        self._samples: dict[str, _Series] = {}
        self._open: dict[int, tuple[float, Reading | None]] = {}
        self._pending: list[_Pending] = []
        self._last_t: float | None = None
        self._next = 0

    def open(self, start_t: float) -> int:
        """A cell started; the token names it to `close`."""
        own = self._probe() if self._probe is not None else None
        with self._lock:
            self._next += 1
            self._open[self._next] = (start_t, own)
            return self._next

    def close(self, token: int, end_t: float, done: Done) -> None:
        """The cell ended: `done(row)` is called with its figures, from the
        sampling thread once a sample at or after `end_t` arrived."""
        own_end = self._probe() if self._probe is not None else None
        with self._lock:
            opened = self._open.pop(token, None)
            if opened is None:
                return
            start, own_start = opened
            own = None if own_start is None or own_end is None else (own_start, own_end)
            cell = (start, end_t, done, own)
            if self._last_t is not None and self._last_t >= end_t:
                ready = [cell]
            else:
                self._pending.append(cell)
                ready = []
        self._deliver(ready)

    def __call__(self, t: float, values: dict[str, float]) -> None:
        if self._probe is not None and CPU in values and RSS in values:
            cpu, rss = self._probe()
            values = {
                **values,
                CHILDREN_CPU: values[CPU] - cpu,
                CHILDREN_RSS: values[RSS] - rss,
            }
        with self._lock:
            for key, value in values.items():
                if key in _KEPT or _GPU_KEY.match(key):
                    series = self._samples.get(key)
                    if series is None:
                        series = self._samples[key] = _Series()
                    if series.t and t <= series.t[-1]:
                        continue  # out of order or repeated: the first one counts
                    series.add(t, float(value))
            self._last_t = t if self._last_t is None else max(self._last_t, t)
            ready = [p for p in self._pending if p[1] <= t]
            self._pending = [p for p in self._pending if p[1] > t]
        self._deliver(ready)

    def finish(self) -> None:
        """Reckon every cell still waiting with the samples there are (the
        monitor stopped: no later sample will come)."""
        with self._lock:
            ready, self._pending = self._pending, []
        self._deliver(ready)

    def _deliver(self, ready: list[_Pending]) -> None:
        for start, end, done, own in ready:
            with self._lock:
                row = usage(self._samples, start, end, own)
            done(row)
        with self._lock:
            self._prune()

    def _prune(self) -> None:
        """Keep the samples from the last one at or before the oldest start
        still needed; with no cell open, the last sample alone."""
        starts = [*(o[0] for o in self._open.values()), *(p[0] for p in self._pending)]
        for series in self._samples.values():
            if not series.t:
                continue
            if starts:
                keep = max(bisect.bisect_right(series.t, min(starts)) - 1, 0)
            else:
                keep = len(series.t) - 1
            if keep > 0:
                del series.t[:keep]
                del series.v[:keep]
