"""Marks runs whose kernel died (heartbeat stale) as crashed (F-SM-8).

It runs on a Tornado PeriodicCallback but does its database work in a
thread, so the server's event loop never waits on it. Several servers on one
database are safe: the service marks each run with a conditional UPDATE, so
only one of them wins and sends the alert.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from tornado.ioloop import PeriodicCallback

from labdeck.backend.context import Backend
from labdeck.backend.models import utcnow
from labdeck.backend.services import runs


class Reaper:
    def __init__(
        self, backend: Backend, staleness: float, interval: float, log: logging.Logger
    ) -> None:
        self.backend = backend
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
        try:
            crashed: list[str] = await loop.run_in_executor(
                None, runs.reap_stale_runs, self.backend, cutoff
            )
        except Exception:
            self.log.exception("labdeck: the heartbeat reaper failed; it will try again")
            return []
        for run_id in crashed:
            self.log.warning("labdeck: run %s lost its heartbeat and is marked crashed", run_id)
        return crashed
