"""A recording kernel's writes as they arrive, before they wait for a thread
(issue 9, "Scale").

Under overload a metrics batch can wait in this process's executor queue for
longer than the heartbeat staleness; the run's `heartbeat_at` is only written
when the batch is processed, so the reaper used to mark runs `crashed` whose
kernels were sending all along, and their batches then answered 409 (points
lost). Two things here prevent that:

- the runs with a kernel write in flight (admitted, not finished) are never
  stale: the reaper skips them (`Reaper.sweep`). Only in flight, not "seen
  lately": a request is counted before the service has checked that its
  sender may write into the run, so one that fails stops counting when it
  ends, and a refused caller cannot keep someone else's run alive;
- at most `limit` kernel writes are in flight in one process
  (`kernel_writes_in_flight`): past that the write answers 503 with
  Retry-After, which a kernel's recorder honours by keeping its buffer and
  sending it with its next flush, rather than queueing for tens of seconds;
- a write refused that way is the kernel's sign of life too: a kernel kept
  out for longer than the staleness window is alive and retrying, so its
  run is not reaped (and no false "crashed" alert is sent) while it keeps
  knocking. A refusal is counted for the account that sent it (the API key
  or sign-in is checked before `admit`), and the reaper spares the run only
  when that account is the run's logger (`runs.reap_stale_runs`), so
  nobody can keep another's run alive by posting into it. What counts is
  the last refusal within the staleness window: a kernel that stops
  knocking is reaped one window later.

Another process's reaper (several `labdeck serve` on one database) does not
see these; a batch that arrives for a run reaped while its kernel was alive
revives it (`ingest.write_samples`), so no point is lost either way.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from labdeck.backend.errors import Unavailable

# The default of `kernel_writes_in_flight`. Threads of the default executor on
# 2 cores: 6; a 150-point batch takes ~10-40 ms of one core, so 64 in flight is
# at most a couple of seconds of queue — far below the heartbeat staleness
# (30 s by default).
MAX_KERNEL_WRITES_IN_FLIGHT = 64
# Refusals remembered at most (a sweep forgets the old ones; this bounds
# what one interval between sweeps can add).
MAX_REFUSALS_KEPT = 100_000
RETRY_AFTER = 2


class Arrivals:
    def __init__(self, limit: int = MAX_KERNEL_WRITES_IN_FLIGHT) -> None:
        self.limit = max(1, limit)
        self._runs: Counter[str] = Counter()
        self._in_flight = 0
        # (run id, account) → monotonic time of the last write refused for load.
        self._refused: dict[tuple[str, int], float] = {}

    @contextmanager
    def admit(self, run_id: str, user_id: int | None = None) -> Iterator[None]:
        """Counts a kernel's write into `run_id` while it is processed, or
        refuses it (503) when `limit` are in flight already, noting the
        refusal for `user_id` (the authenticated sender). Used on the event
        loop only, so it needs no lock."""
        if self._in_flight >= self.limit:
            if user_id is not None and run_id and len(self._refused) < MAX_REFUSALS_KEPT:
                self._refused[(run_id, user_id)] = time.monotonic()
            raise Unavailable(
                "the service is busy with other kernels' writes; keep the batch and "
                "send it again shortly",
                retry_after=RETRY_AFTER,
            )
        self._in_flight += 1
        self._runs[run_id] += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._runs[run_id] -= 1
            if self._runs[run_id] <= 0:
                del self._runs[run_id]

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def runs(self) -> list[str]:
        """The runs a kernel write is in flight for, now."""
        return sorted(self._runs)

    def refused(self, within: float) -> list[tuple[str, int]]:
        """(run id, account) of the writes refused for load in the last
        `within` seconds; older refusals are forgotten."""
        cutoff = time.monotonic() - within
        self._refused = {k: when for k, when in self._refused.items() if when >= cutoff}
        return sorted(self._refused)
