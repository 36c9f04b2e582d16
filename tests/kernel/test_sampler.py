"""Sampler timing, isolation of slow and failing collectors, pause/resume and sinks."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable

import pytest

from labdeck.kernel.collectors.base import Collector, Probe, SamplerConfig
from labdeck.kernel.sampler import Sampler


class Fake(Collector):
    """A collector whose sample is a callable; counts probes, samples and closes."""

    def __init__(
        self,
        name: str,
        read: Callable[[], dict[str, float]] | None = None,
        slow: bool = False,
        present: bool = True,
    ) -> None:
        self.name = name
        self.slow = slow
        self._read = read or (lambda: {f"{name}.value": 1.0})
        self._present = present
        self.samples = 0
        self.closed = 0

    def probe(self) -> Probe:
        return Probe(self._present, "" if self._present else f"{self.name} is not here")

    def sample(self) -> dict[str, float]:
        self.samples += 1
        return self._read()

    def info(self) -> dict[str, object]:
        return {"kind": "fake"}

    def close(self) -> None:
        self.closed += 1


class Recorder:
    """A sink that keeps (monotonic time of arrival, unix time, values)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, dict[str, float]]] = []
        self.lock = threading.Lock()

    def __call__(self, stamp: float, values: dict[str, float]) -> None:
        with self.lock:
            self.samples.append((time.monotonic(), stamp, dict(values)))

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.samples) < count and time.monotonic() < deadline:
            time.sleep(0.01)


def _sampler(
    collectors: list[Collector], interval: float = 0.1, slow_interval: float | None = None
) -> tuple[Sampler, Recorder]:
    sink = Recorder()
    config = SamplerConfig(interval=interval, slow_interval=slow_interval)
    sampler = Sampler(collectors, config, [sink])
    return sampler, sink


def test_interval_is_validated() -> None:
    with pytest.raises(ValueError, match="at least 0.1"):
        SamplerConfig(interval=0.05)
    with pytest.raises(ValueError):
        SamplerConfig(openmetrics_filters=["("])
    assert SamplerConfig(interval=0.1).interval == 0.1
    assert SamplerConfig(interval=0.1).effective_slow_interval == 1.0
    assert SamplerConfig(interval=60).effective_slow_interval == 5.0


def test_first_sample_is_taken_at_start() -> None:
    fast = Fake("fast")
    sampler, sink = _sampler([fast], interval=60)
    started = time.monotonic()
    sampler.start()
    try:
        assert len(sink.samples) == 1  # start() returns once the first sample is delivered
        assert sink.samples[0][0] - started < 1.0
        assert sink.samples[0][2] == {"fast.value": 1.0}
        assert abs(sink.samples[0][1] - time.time()) < 5
    finally:
        sampler.stop()
    assert fast.samples == 2 and fast.closed == 1  # the baseline and the closing sample


def test_short_run_has_a_baseline_an_early_full_sample_and_a_closing_one() -> None:
    """A 1 s run under a 10 s interval: samples at 0, 0.5 s (the first full one) and
    at stop, so that a rate, which needs two readings, has two points."""
    fast = Fake("fast")
    sampler, sink = _sampler([fast], interval=10)
    started = time.monotonic()
    sampler.start()
    sink.wait_for(2, timeout=5)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    sampler.stop()
    arrivals = [t - started for t, _, _ in sink.samples]
    assert len(arrivals) == 3, arrivals
    assert arrivals[0] < 0.3
    assert 0.45 <= arrivals[1] <= 0.85, arrivals  # <= 0.5 s after, give or take a loaded host
    assert arrivals[2] >= 0.95
    assert fast.closed == 1


def test_short_intervals_keep_their_grid() -> None:
    fast, starts = _timed([0.0])
    sampler, _ = _sampler([fast], interval=0.4)
    sampler.start()
    time.sleep(0.9)
    sampler.stop()
    ticks = [(t - starts[0]) / 0.4 for t in starts[:-1]]  # the last is the closing sample
    assert all(abs(k - round(k)) < 0.3 for k in ticks), ticks


def test_paused_sampler_takes_no_closing_sample() -> None:
    fast = Fake("fast")
    sampler, sink = _sampler([fast], interval=10)
    sampler.start()
    sampler.pause()
    taken = len(sink.samples)
    sampler.stop()
    assert len(sink.samples) == taken


def _timed(delays: list[float]) -> tuple[Fake, list[float]]:
    """A collector that notes when each sample starts, then takes `delays[i]` seconds."""
    starts: list[float] = []

    def read() -> dict[str, float]:
        starts.append(time.monotonic())
        time.sleep(delays[min(len(starts) - 1, len(delays) - 1)])
        return {"x": 1.0}

    return Fake("timed", read=read), starts


def test_ticks_follow_the_grid_without_drift() -> None:
    # Each sample costs 30 ms; a naive sleep(interval) loop would drift 30 ms a tick.
    fast, starts = _timed([0.03])
    sampler, sink = _sampler([fast], interval=0.1)
    sampler.start()
    time.sleep(0.95)
    sampler.stop()
    ticks = [(t - starts[0]) / 0.1 for t in starts]
    assert len(ticks) >= 7
    # Every sample starts at origin + k * interval (give or take scheduling).
    assert all(abs(k - round(k)) < 0.35 for k in ticks), ticks
    assert round(ticks[-1]) >= len(ticks) - 1
    assert len(sink.samples) == len(starts)


def test_missed_ticks_are_skipped_not_caught_up() -> None:
    fast, starts = _timed([0.0, 0.35, 0.0])
    sampler, _ = _sampler([fast], interval=0.1)
    sampler.start()
    time.sleep(0.85)
    sampler.stop()
    ticks = [round((t - starts[0]) / 0.1) for t in starts]
    # The 350 ms sample started at tick 1 and covered ticks 2-4: the next starts at 5.
    assert ticks[:3] == [0, 1, 5], ticks
    assert ticks == sorted(set(ticks))  # one sample per tick at most: no burst


def test_slow_collector_never_delays_the_fast_one() -> None:
    release = threading.Event()

    def slow_read() -> dict[str, float]:
        release.wait(5)
        return {"slow.value": 2.0}

    slow = Fake("slow", read=slow_read, slow=True)
    fast = Fake("fast")
    sampler, sink = _sampler([fast, slow], interval=0.1, slow_interval=10)
    sampler.start()
    time.sleep(0.55)
    before_release = len(sink.samples)
    release.set()
    sink.wait_for(before_release + 2)
    sampler.stop()

    assert before_release >= 5  # the fast thread ticked while the slow one was blocked
    with_slow = [values for _, _, values in sink.samples if "slow.value" in values]
    assert len(with_slow) == 1  # merged once, into the next sample after it arrived
    assert with_slow[0]["fast.value"] == 1.0
    assert not any("slow.value" in values for _, _, values in sink.samples[:before_release])


def test_failing_collector_is_reported_once_and_disabled() -> None:
    def broken() -> dict[str, float]:
        raise OSError("device fell off the bus")

    bad, good = Fake("bad", read=broken), Fake("good")
    sampler, sink = _sampler([bad, good], interval=0.1)

    with pytest.warns(RuntimeWarning, match="'bad' failed and is disabled.*fell off the bus"):
        sampler.sample_once()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler.sample_once()
        sampler.sample_once()

    assert bad.samples == 1 and bad.closed == 1
    assert good.samples == 3
    status = sampler.status()
    assert status["disabled"] == {"bad": "OSError: device fell off the bus"}
    assert status["active"] == ["good"]
    assert [values for _, _, values in sink.samples] == [{"good.value": 1.0}] * 3
    sampler.stop()


def test_failing_collector_in_the_background_thread() -> None:
    calls = {"n": 0}

    def flaky() -> dict[str, float]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("NVML lost the GPU")
        return {"flaky.value": 1.0}

    flaky_collector, good = Fake("flaky", read=flaky), Fake("good")
    sampler, sink = _sampler([flaky_collector, good], interval=0.1)
    with pytest.warns(RuntimeWarning, match="'flaky'"):
        sampler.start()
        sink.wait_for(4)
        sampler.stop()
    assert calls["n"] == 2
    assert sink.samples[-1][2] == {"good.value": 1.0}


def test_failing_slow_collector_is_disabled_too() -> None:
    def broken() -> dict[str, float]:
        raise TimeoutError("rocm-smi hung")

    slow = Fake("slow", read=broken, slow=True)
    sampler, sink = _sampler([slow, Fake("fast")], interval=0.1, slow_interval=0.1)
    with pytest.warns(RuntimeWarning, match="'slow'"):
        sampler.start()
        time.sleep(0.4)
        sampler.stop()
    assert slow.samples == 1
    assert sampler.status()["disabled"] == {"slow": "TimeoutError: rocm-smi hung"}


def test_pause_and_resume() -> None:
    sampler, sink = _sampler([Fake("fast")], interval=0.1)
    sampler.start()
    sink.wait_for(2)
    sampler.pause()
    time.sleep(0.05)
    paused_at = len(sink.samples)
    time.sleep(0.4)
    assert len(sink.samples) == paused_at
    assert sampler.status()["paused"] is True

    resumed = time.monotonic()
    sampler.resume()
    sink.wait_for(paused_at + 1)
    sampler.stop()
    assert sink.samples[paused_at][0] - resumed < 0.08  # resuming samples at once
    assert sampler.status()["paused"] is False


def test_failing_sink_is_reported_once_and_dropped() -> None:
    def broken_sink(stamp: float, values: dict[str, float]) -> None:
        raise ValueError("database is locked")

    good = Recorder()
    sampler = Sampler([Fake("fast")], SamplerConfig(interval=0.1), [broken_sink, good])
    with pytest.warns(RuntimeWarning, match="broken_sink failed and is dropped"):
        sampler.sample_once()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler.sample_once()
    assert len(good.samples) == 2
    sampler.stop()


def test_status_info_and_skipped() -> None:
    class Exploding(Fake):
        def probe(self) -> Probe:
            raise ImportError("libfoo.so: cannot open shared object file")

    present, absent = Fake("fast"), Fake("gpu", present=False)
    sampler, sink = _sampler([present, absent, Exploding("odd")], interval=0.5)
    status = sampler.status()
    assert status == {
        "problems": {},
        "interval": 0.5,
        "active": ["fast"],
        "skipped": {
            "gpu": "gpu is not here",
            "odd": "probe failed: ImportError: libfoo.so: cannot open shared object file",
        },
        "disabled": {},
        "samples_taken": 0,
        "running": False,
        "paused": False,
    }
    assert sampler.skipped == status["skipped"]
    assert absent.closed == 1 and absent.samples == 0
    assert sampler.info() == {"fast": {"kind": "fake"}}

    sampler.start()
    assert sampler.status()["running"] is True
    sampler.stop()
    status = sampler.status()
    assert status["running"] is False and status["samples_taken"] == len(sink.samples) >= 1


def test_stop_takes_no_further_sample_and_cannot_restart() -> None:
    fast = Fake("fast")
    sampler, sink = _sampler([fast], interval=0.1)
    sampler.start()
    sink.wait_for(2)
    sampler.stop()
    taken = len(sink.samples)  # the closing sample included
    time.sleep(0.3)
    assert len(sink.samples) == taken and fast.samples == taken
    assert fast.closed == 1
    with pytest.raises(RuntimeError):
        sampler.start()
    with pytest.raises(RuntimeError):
        sampler.sample_once()


def test_sample_once_and_late_sinks() -> None:
    sampler, sink = _sampler([Fake("a"), Fake("b")], interval=1)
    late = Recorder()
    sampler.add_sink(late)
    stamp, values = sampler.sample_once()
    assert values == {"a.value": 1.0, "b.value": 1.0}
    assert abs(stamp - time.time()) < 5
    assert len(sink.samples) == len(late.samples) == 1
    assert sampler.status()["samples_taken"] == 1
    sampler.stop()
