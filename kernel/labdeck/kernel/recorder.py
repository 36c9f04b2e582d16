"""The recorder sink: buffers samples and writes them through the backend.

The sampler thread only appends to a list (no I/O on its path); a flush
thread writes the batch every `flush_interval` seconds, which also refreshes
the run's heartbeat, so a dead kernel is noticed by the server's reaper.
A failed write keeps the batch for the next try, bounded so that a database
outage cannot grow the kernel's memory without limit.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import LabdeckError
from labdeck.backend.services import ingest

log = logging.getLogger("labdeck")

MAX_PENDING_SAMPLES = 50_000


class Recorder:
    def __init__(
        self, backend: Backend, actor: Actor, run_id: str, flush_interval: float = 5.0
    ) -> None:
        self.backend = backend
        self.actor = actor
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.samples_written = 0
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        self.dropped = 0

    def __call__(self, t: float, values: dict[str, float]) -> None:
        with self._lock:
            self._buffer.append({"t": t, "values": values})

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="labdeck-recorder", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (or only beat the heart when nothing is)."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            try:
                if batch:
                    ingest.write_samples(self.backend, self.actor, self.run_id, batch)
                    self.samples_written += len(batch)
                else:
                    ingest.heartbeat(self.backend, self.actor, self.run_id)
            except LabdeckError as exc:
                # The run was ended or removed elsewhere: nothing more can be recorded.
                self._report(f"labdeck: run {self.run_id} no longer takes samples: {exc.message}")
                self._stop.set()
            except Exception as exc:
                self._report(f"labdeck: writing samples failed, will retry: {exc}")
                with self._lock:
                    self._buffer = batch + self._buffer
                    overflow = len(self._buffer) - MAX_PENDING_SAMPLES
                    if overflow > 0:
                        del self._buffer[:overflow]
                        self.dropped += overflow

    def _report(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)

    def close(self) -> None:
        """Stop the flush thread and write what is left."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
