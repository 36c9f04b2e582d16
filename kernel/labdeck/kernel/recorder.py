"""The recorder sink: buffers samples and writes them through the client.

The sampler thread only appends to a list (no I/O on its path); a flush
thread writes the batch every `flush_interval` seconds, which also refreshes
the run's heartbeat, so a dead kernel is noticed by the server's reaper.
The same recorder serves both modes (`labdeck.client.mode`): in the
embedded mode its client writes to the database in this process, in client
mode it posts to the service's `POST /runs/{id}/metrics`.

A write that cannot be made now (the database locked, the service stopped
or unreachable: `RetryLater`) keeps its batch for the next flush, and the
backlog goes out in order when the write succeeds again; a re-sent batch is
safe, since the server counts points it already holds as duplicates. The
backlog is bounded (`max_pending` samples) so that a long outage cannot
grow the kernel's memory without limit: past the bound the oldest samples
are dropped and counted (`dropped`), and the count is recorded with the
run when it ends (`system.dropped_samples`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from labdeck.backend.errors import LabdeckError, RetryLater
from labdeck.client.base import Client

log = logging.getLogger("labdeck")

# The bound of the backlog, in samples: at a 1 s interval, about 14 hours of
# outage; a sample of ~30 keys is a few kB, so some 100 MB at the very most.
MAX_PENDING_SAMPLES = 50_000
# How long `close()` keeps trying to write the backlog before it gives up
# and counts what is left as dropped.
CLOSE_TIMEOUT = 30.0


def first_batch(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The longest head of `samples` one call takes (the server's limits,
    `ingest.first_batch`), imported on the first write, off the start path."""
    from labdeck.backend.services import ingest

    return samples[: len(ingest.first_batch(samples))]


class Recorder:
    def __init__(
        self,
        client: Client,
        run_id: str,
        flush_interval: float = 5.0,
        *,
        max_pending: int = MAX_PENDING_SAMPLES,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.close_timeout = close_timeout
        self.samples_written = 0
        self.dropped = 0
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        # Why the last flush kept its batch (None: it wrote everything).
        self.failing: str | None = None

    def __call__(self, t: float, values: dict[str, float]) -> None:
        with self._lock:
            self._buffer.append({"t": t, "values": values})
            self._bound()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="labdeck-recorder", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self._warm_up()
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def _warm_up(self) -> None:
        """The first write's one-off cost (SQLAlchemy compiling its
        statements, in the embedded mode), paid on this thread as the run
        starts rather than at its first flush. Failing here changes nothing:
        the flushes report their own errors."""
        try:
            with self._flush_lock:
                self.client.warm_up(self.run_id)
        except Exception as exc:
            log.debug("labdeck: warming up the recorder failed: %s", exc)

    def flush(self) -> bool:
        """Write what is buffered (or only beat the heart when nothing is).
        True when everything was written."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            try:
                if not batch:
                    self.client.heartbeat(self.run_id)
                # A backlog (after an outage) goes in batches the server takes.
                while batch:
                    part = first_batch(batch)
                    self.client.write_samples(self.run_id, part)
                    self.samples_written += len(part)
                    batch = batch[len(part) :]
            except RetryLater as exc:
                self._keep(batch, f"labdeck: cannot record samples now, will retry: {exc.message}")
                return False
            except LabdeckError as exc:
                # The run was ended or removed elsewhere: nothing more can be recorded.
                self._report(f"labdeck: run {self.run_id} no longer takes samples: {exc.message}")
                self.failing = None
                self._stop.set()
                return False
            except Exception as exc:
                self._keep(batch, f"labdeck: writing samples failed, will retry: {exc}")
                return False
            if self.failing is not None:
                log.warning("labdeck: recording again, the backlog is written")
            self.failing = None
            self._warned = False
            return True

    def _keep(self, batch: list[dict[str, Any]], message: str) -> None:
        """Put an unwritten batch back, ahead of what came since."""
        self.failing = message
        self._report(message)
        with self._lock:
            self._buffer = batch + self._buffer
            self._bound()

    def _bound(self) -> None:
        """Past `max_pending` samples, drop the oldest and count them (lock held)."""
        overflow = len(self._buffer) - self.max_pending
        if overflow > 0:
            del self._buffer[:overflow]
            self.dropped += overflow

    def _report(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)

    def close(self) -> None:
        """Stop the flush thread and write what is left, retrying a service
        or database that is away for up to `close_timeout` seconds; what
        cannot be written by then is counted as dropped."""
        stopped_elsewhere = self._stop.is_set()
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if stopped_elsewhere and self.failing is None:
            return
        deadline = time.monotonic() + self.close_timeout
        while not self.flush() and self.failing is not None:
            if time.monotonic() >= deadline:
                with self._lock:
                    self.dropped += len(self._buffer)
                    self._buffer = []
                log.warning(
                    "labdeck: run %s ends with %d samples not recorded", self.run_id, self.dropped
                )
                return
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
