"""The background sampler: one thread for fast collectors, one per slow collector.

Ticks are aligned to `time.monotonic()` deadlines (`start + k * interval`),
so a slow sample delays its own tick only and the series never drifts; a
tick missed entirely (a suspended laptop, a long GC pause) is skipped rather
than caught up in a burst.

Short runs get every key twice. The first sample is taken as soon as
`start()` is called, and `start()` returns once it is delivered: it is the
baseline of the rates (`cpu` needs two readings), so it carries the levels
only. The first full sample follows `FIRST_FULL_S` later (sooner when the
interval is shorter), whatever the interval, and `stop()` takes a closing
sample: a 1 s cell under a 10 s monitor records a baseline, a full sample
at 0.5 s and one at its end.

Slow collectors run each on a worker thread of their own; what they produce
is merged, once, into the next fast sample, which never waits for them. A
collector or a sink that raises is reported once (`warnings.warn` naming it)
and dropped; the others go on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence

from .collectors.base import Collector, Probe, SamplerConfig

Sink = Callable[[float, dict[str, float]], None]

log = logging.getLogger(__name__)

_FIRST_SAMPLE_WAIT_S = 30.0
FIRST_FULL_S = 0.5
"""Seconds from the baseline sample to the first full one (at most)."""
_SLOW_JOIN_S = 6.0


def _probe(collector: Collector) -> Probe:
    try:
        return collector.probe()
    except Exception as exc:  # a probe must not raise; one that does is treated as absent
        return Probe(False, f"probe failed: {type(exc).__name__}: {exc}")


class Sampler:
    """Samples `collectors` every `config.interval` seconds and hands each sample to `sinks`."""

    def __init__(
        self, collectors: Sequence[Collector], config: SamplerConfig, sinks: Sequence[Sink] = ()
    ) -> None:
        self._config = config
        self._sinks: list[Sink] = list(sinks)
        self._skipped: dict[str, str] = {}
        self._disabled: dict[str, str] = {}
        self._fast: list[Collector] = []
        self._slow: list[Collector] = []
        self._all: list[Collector] = []
        for collector in collectors:
            probe = _probe(collector)
            if probe.present:
                (self._slow if collector.slow else self._fast).append(collector)
                self._all.append(collector)
            else:
                self._skipped[collector.name] = probe.reason
                self._close(collector)
        self._lock = threading.Lock()  # guards the pending slow values and the counters
        # One sample at a time, from any thread; re-entrant so that a sink may pause.
        self._sample_lock = threading.RLock()
        self._pending: dict[str, float] = {}
        self._samples_taken = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._first = threading.Event()
        self._paused = False
        self._resumed = False
        self._started = False
        self._thread: threading.Thread | None = None
        self._workers: dict[str, threading.Thread] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start sampling; returns after the first sample reached the sinks."""
        if self._started or self._stop.is_set():
            raise RuntimeError("a Sampler can be started once, and not after stop()")
        self._started = True
        self._thread = threading.Thread(target=self._run_fast, name="labdeck-sampler", daemon=True)
        self._thread.start()
        for collector in self._slow:
            worker = threading.Thread(
                target=self._run_slow,
                args=(collector,),
                name=f"labdeck-sampler-{collector.name}",
                daemon=True,
            )
            self._workers[collector.name] = worker
            worker.start()
        self._first.wait(_FIRST_SAMPLE_WAIT_S)

    def stop(self) -> None:
        """Stop the sampling threads and close the collectors; no sample is taken after."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        in_sampler = self._thread is threading.current_thread()
        if self._thread is not None and not in_sampler:
            self._thread.join()
        stuck = set()
        for name, worker in self._workers.items():
            worker.join(_SLOW_JOIN_S)
            if worker.is_alive():
                stuck.add(name)
                log.warning("labdeck: collector %r did not stop within %s s", name, _SLOW_JOIN_S)
        with self._lock:
            closing = self._started and not self._paused and not in_sampler
        if closing:
            # The closing sample: what the run did since the last tick (and
            # the last values of the slow collectors) is not lost.
            self._sample()
        for collector in self._all:
            if collector.name not in stuck and collector.name not in self._disabled:
                self._close(collector)  # a disabled collector was closed when it failed

    def pause(self) -> None:
        """Take no samples until `resume()`; threads stay up, so resuming is instant.

        Returns once a sample in flight is delivered: none follows it.
        """
        with self._lock:
            self._paused = True
        with self._sample_lock:
            pass

    def resume(self) -> None:
        """Sample again, starting with one sample at once."""
        with self._lock:
            if not self._paused:
                return
            self._paused = False
            self._resumed = True
        self._wake.set()

    def add_sink(self, sink: Sink) -> None:
        """One more consumer of samples (a live chart attached after start, say)."""
        with self._lock:
            self._sinks.append(sink)

    @property
    def skipped(self) -> dict[str, str]:
        return dict(self._skipped)

    def problems(self) -> dict[str, str]:
        """Each active collector's current partial failures, keyed `collector: what`."""
        found: dict[str, str] = {}
        with self._lock:
            active = [c for c in self._all if c.name not in self._disabled]
        for collector in active:
            try:
                for what, why in collector.problems().items():
                    found[f"{collector.name}: {what}"] = why
            except Exception as exc:
                found[collector.name] = f"problems() failed: {type(exc).__name__}: {exc}"
        return found

    def status(self) -> dict[str, object]:
        problems = self.problems()
        with self._lock:
            return {
                "problems": problems,
                "interval": self._config.interval,
                "active": [c.name for c in self._all if c.name not in self._disabled],
                "skipped": dict(self._skipped),
                "disabled": dict(self._disabled),
                "samples_taken": self._samples_taken,
                "running": self._thread is not None
                and self._thread.is_alive()
                and not self._stop.is_set(),
                "paused": self._paused,
            }

    def info(self) -> dict[str, object]:
        """Every present collector's `info()`, by collector name."""
        merged: dict[str, object] = {}
        for collector in self._all:
            try:
                merged[collector.name] = collector.info()
            except Exception as exc:
                merged[collector.name] = {"error": f"{type(exc).__name__}: {exc}"}
        return merged

    # -- sampling ----------------------------------------------------------------------------

    def sample_once(self) -> tuple[float, dict[str, float]]:
        """Take one sample now, deliver it to the sinks and return it (not after stop())."""
        if self._stop.is_set():
            raise RuntimeError("the sampler is stopped")
        return self._sample()

    def _sample(self) -> tuple[float, dict[str, float]]:
        with self._sample_lock:
            stamp = time.time()
            values: dict[str, float] = {}
            for collector in list(self._fast):
                try:
                    values.update(collector.sample())
                except Exception as exc:
                    self._disable(collector, exc)
            with self._lock:
                if self._pending:
                    values.update(self._pending)
                    self._pending = {}
                self._samples_taken += 1
                sinks = list(self._sinks)
            for sink in sinks:
                try:
                    sink(stamp, values)
                except Exception as exc:
                    self._drop_sink(sink, exc)
            return stamp, values

    def _tick_sample(self) -> None:
        """A periodic sample, unless a pause() came since the loop looked."""
        with self._sample_lock:
            with self._lock:
                paused = self._paused
            if not paused:
                self._sample()

    def _run_fast(self) -> None:
        interval = self._config.interval
        origin = time.monotonic()
        try:
            self._sample()
        finally:
            self._first.set()
        # The first full sample comes soon, whatever the interval; the grid goes on.
        early = origin + min(FIRST_FULL_S, interval / 2) if interval > FIRST_FULL_S else None
        tick = 1
        while True:
            woken = self._sleep_until(early if early is not None else origin + tick * interval)
            if self._stop.is_set():
                return
            with self._lock:
                paused, resumed = self._paused, self._resumed
                self._resumed = False
            if resumed:
                origin = time.monotonic()
                self._sample()
                tick, early = 1, None
                continue
            if woken:
                continue
            early = None
            if not paused:
                self._tick_sample()
            # The next tick after now: a sample that overran skips the ticks it covered.
            tick = math.floor((time.monotonic() - origin) / interval) + 1

    def _sleep_until(self, deadline: float) -> bool:
        """Wait for `deadline`; True when woken early by stop() or resume()."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._wake.wait(remaining):
                self._wake.clear()
                return True

    def _run_slow(self, collector: Collector) -> None:
        interval = self._config.effective_slow_interval
        origin = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            with self._lock:
                paused = self._paused
            if not paused:
                try:
                    values = collector.sample()
                except Exception as exc:
                    self._disable(collector, exc)
                    return
                with self._lock:
                    self._pending.update(values)
            tick = max(tick, math.floor((time.monotonic() - origin) / interval)) + 1
            if self._stop.wait(max(origin + tick * interval - time.monotonic(), 0.0)):
                return

    # -- failures ----------------------------------------------------------------------------

    def _disable(self, collector: Collector, exc: BaseException) -> None:
        with self._lock:
            if collector.name in self._disabled:
                return
            self._disabled[collector.name] = f"{type(exc).__name__}: {exc}"
            if collector in self._fast:
                self._fast.remove(collector)
        warnings.warn(
            f"labdeck: collector {collector.name!r} failed and is disabled: "
            f"{type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=2,
        )
        self._close(collector)

    def _drop_sink(self, sink: Sink, exc: BaseException) -> None:
        with self._lock:
            if sink not in self._sinks:
                return
            self._sinks.remove(sink)
        name = getattr(sink, "__qualname__", None) or repr(sink)
        warnings.warn(
            f"labdeck: sink {name} failed and is dropped: {type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=2,
        )

    @staticmethod
    def _close(collector: Collector) -> None:
        try:
            collector.close()
        except Exception as exc:
            log.debug("labdeck: closing collector %r failed: %s", collector.name, exc)
