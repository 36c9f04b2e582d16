"""`labdeck serve --workers N`: N processes of the service behind one address.

One Python process handles requests on one core at a time (the GIL), and
at a thousand recording kernels the service needs more than one core
(docs/hub.md, "Scale"). With `--workers N` the process the Hub starts
(the first worker) starts N-1 more `labdeck serve` processes with its own
command line and environment. Every worker listens on the same address
with SO_REUSEPORT, so the operating system spreads incoming connections
over them: the Hub's proxy keeps routing to one URL, and no load balancer
has to be run. The workers share nothing but the database, as several
`labdeck serve` on one database always could (the reaper claims runs with
a conditional UPDATE, the outbox with a lease).

- The first worker has migrated the database before it starts the others.
- A worker that exits is started again: after 1 s, doubling up to 30 s
  while workers keep exiting within 10 s of their start (a broken setting
  must not turn into a fork loop), and it says so in the log.
- When the first worker stops (the Hub stops its service with SIGTERM) it
  stops the others and waits for them; if it is killed outright, Linux
  sends each of them SIGTERM (`PR_SET_PDEATHSIG`, which each worker asks
  for as it starts: `follow_first`), so none outlives it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tornado.ioloop import PeriodicCallback

# A worker alive this long counts as started well: the next exit starts the
# back-off afresh.
_HEALTHY_AFTER = 10.0
_FIRST_DELAY = 1.0
_MAX_DELAY = 30.0
_STOP_TIMEOUT = 15.0
_PR_SET_PDEATHSIG = 1


def follow_first(first_pid: int) -> None:
    """In a worker started by the first (`first_pid`): SIGTERM to this process
    when the first one dies (Linux). Set by the worker itself, not between
    fork and exec, where the first worker's threads make it unsafe; and if
    the first died before that, the worker stops now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != first_pid:
        raise SystemExit(f"labdeck: the first worker (pid {first_pid}) is gone; stopping")


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = _FIRST_DELAY
    restart_at: float | None = None


class Workers:
    """The other workers of this service, started, watched and stopped by the
    first one: each runs `command` with this process's pid in `first_env`."""

    def __init__(
        self, count: int, command: Sequence[str], first_env: str, log: logging.Logger
    ) -> None:
        self._command = list(command)
        self._env = {**os.environ, first_env: str(os.getpid())}
        self._log = log
        self._workers = [_Worker(index) for index in range(1, count)]
        self._watch: PeriodicCallback | None = None
        self._stopping = False

    def start(self) -> None:
        """Start every worker, then watch them once a second (on the event loop)."""
        for worker in self._workers:
            self._spawn(worker)
        self._watch = PeriodicCallback(self._check, 1000)
        self._watch.start()

    def _spawn(self, worker: _Worker) -> None:
        # A session of its own: Ctrl-C at a terminal reaches the first worker
        # alone, which asks before stopping and then stops the others.
        worker.process = subprocess.Popen(
            self._command,
            env=self._env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        worker.started = time.monotonic()
        worker.restart_at = None
        self._log.info("labdeck: worker %d started (pid %d)", worker.index, worker.process.pid)

    def _check(self) -> None:
        if self._stopping:
            return
        now = time.monotonic()
        for worker in self._workers:
            if worker.process is None:
                continue
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    self._spawn(worker)
                continue
            code = worker.process.poll()
            if code is None:
                continue
            if now - worker.started >= _HEALTHY_AFTER:
                worker.delay = _FIRST_DELAY
            self._log.warning(
                "labdeck: worker %d (pid %d) exited with status %s; starting it again in %g s",
                worker.index,
                worker.process.pid,
                code,
                worker.delay,
            )
            worker.restart_at = now + worker.delay
            worker.delay = min(_MAX_DELAY, worker.delay * 2)

    def stop(self) -> None:
        """SIGTERM to every worker, then wait for them (SIGKILL past the timeout)."""
        self._stopping = True
        if self._watch is not None:
            self._watch.stop()
        running = [w.process for w in self._workers if w.process and w.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + _STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._log.warning("labdeck: worker pid %d did not stop; killing it", process.pid)
                process.kill()
                process.wait()
