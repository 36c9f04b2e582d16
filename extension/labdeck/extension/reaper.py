"""Marks runs whose kernel died (heartbeat stale) as crashed (F-SM-8).

It runs on a Tornado PeriodicCallback but does its database work in a
thread, so the server's event loop never waits on it. Several servers on one
database are safe: the service marks each run with a conditional UPDATE, so
only one of them wins and sends the alert.

Staleness is judged by what this service has received, not only by the
stored heartbeat: a run with a kernel write in flight here (`arrivals`,
queued behind other writes under load) is never reaped, nor one whose
logger's write was refused for load (503) within the staleness window (the
kernel is alive and retrying), and a batch that
reaches a run reaped while its kernel was alive revives it
(`ingest.write_samples`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from functools import partial

from tornado.ioloop import PeriodicCallback

from labdeck.backend.context import Backend
from labdeck.backend.errors import RetryLater
from labdeck.backend.models import utcnow
from labdeck.backend.services import runs

from .arrivals import Arrivals


class Reaper:
    def __init__(
        self,
        backend: Backend,
        staleness: float,
        interval: float,
        log: logging.Logger,
        arrivals: Arrivals | None = None,
    ) -> None:
        self.backend = backend
        self.arrivals = arrivals
        self.staleness = dt.timedelta(seconds=staleness)
        self.interval = interval
        self.log = log
        self._callback: PeriodicCallback | None = None

    def start(self) -> None:
        if self.interval > 0 and self._callback is None:
            self._callback = PeriodicCallback(self.sweep, self.interval * 1000)
            self._callback.start()

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    async def sweep(self) -> list[str]:
        cutoff = utcnow() - self.staleness
        loop = asyncio.get_running_loop()
        alive = self.arrivals.runs() if self.arrivals is not None else []
        knocking = (
            self.arrivals.refused(self.staleness.total_seconds())
            if self.arrivals is not None
            else []
        )
        try:
            crashed: list[str] = await loop.run_in_executor(
                None,
                partial(runs.reap_stale_runs, self.backend, cutoff, alive=alive, knocking=knocking),
            )
        except RetryLater:
            return []  # the database is down or locked: logged once, by `outages`
        except Exception:
            self.log.exception("labdeck: the heartbeat reaper failed; it will try again")
            return []
        for run_id in crashed:
            self.log.warning("labdeck: run %s lost its heartbeat and is marked crashed", run_id)
        return crashed
