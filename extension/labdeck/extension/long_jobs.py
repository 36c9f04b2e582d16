"""The server's pool for long requests: exports, storage probes, artifact
files, deletions that purge files.

Every other request runs its database work on asyncio's default executor,
a handful of threads (on 2 cores: 6). Six team exports used to fill it, and
another user's `GET /me` waited for one of them to finish (p99 13.9 s on
SQLite, 15.6 s on PostgreSQL, tests/rest/test_long_jobs.py). Long requests
run here instead: `LabdeckApp.long_job_threads` threads, and at most
`QUEUE_PER_THREAD` times as many waiting; past that the server answers 503
with Retry-After rather than pile up work (an export holds its archive in
memory while it runs).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from labdeck.backend.errors import Unavailable

QUEUE_PER_THREAD = 8


class LongJobs:
    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="labdeck-long")
        self._admitted = threading.BoundedSemaphore(self.threads * (1 + QUEUE_PER_THREAD))

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        if not self._admitted.acquire(blocking=False):
            raise Unavailable(
                "the server is busy with other long requests (exports, uploads, downloads); "
                "try again shortly",
                retry_after=5,
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)
        finally:
            self._admitted.release()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
