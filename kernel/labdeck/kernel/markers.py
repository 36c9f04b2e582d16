"""Cell markers (F-SM-9): each cell executed while a monitor runs is recorded
with its execution count and first source line, start and end.

IPython's `pre_run_cell`/`post_run_cell` events fire on the kernel's main
thread, so the database writes go to a one-thread executor: the user's cell
never waits on them, and their order is kept.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

from labdeck.backend.services import markers as marker_service

from .session import Monitor

log = logging.getLogger("labdeck")


class CellMarkers:
    def __init__(self, shell: InteractiveShell, monitor: Monitor) -> None:
        self.shell = shell
        self.monitor = monitor
        self.paused = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labdeck-markers")
        self._open: Future[dict[str, Any]] | None = None
        self._current: dict[str, Any] | None = None

    def register(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        """Stop listening; the cell now running (the one that stops the
        monitor) is closed here, since its post_run_cell comes too late."""
        if self._open is not None and self._current is not None:
            opened, marker = self._open, dict(self._current, end_t=time.time(), error=False)
            self._open = self._current = None
            self.monitor.publish_marker(marker)
            self._executor.submit(self._end, opened, marker)
        for event, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        self._executor.shutdown(wait=True)

    def pre_run_cell(self, info: Any) -> None:
        if self.paused or self.monitor.state != "running":
            return
        source = getattr(info, "raw_cell", "") or ""
        count: int = self.shell.execution_count
        first_line = source.strip().splitlines()[0] if source.strip() else ""
        start = time.time()
        marker = {
            "execution_count": count,
            "first_line": first_line,
            "start_t": start,
            "end_t": None,
        }
        self._current = marker
        self.monitor.publish_marker(marker)
        self._open = self._executor.submit(
            marker_service.add_cell_marker,
            self.monitor.backend,
            self.monitor.actor,
            self.monitor.run_id,
            count,
            first_line,
            start,
        )

    def post_run_cell(self, result: Any) -> None:
        opened, marker = self._open, self._current
        self._open = self._current = None
        if opened is None or marker is None:
            return
        marker = dict(marker, end_t=time.time(), error=not getattr(result, "success", True))
        self.monitor.publish_marker(marker)
        self._executor.submit(self._end, opened, marker)

    def _end(self, opened: Future[dict[str, Any]], marker: dict[str, Any]) -> None:
        try:
            marker_id = opened.result()["id"]
            marker_service.end_cell_marker(
                self.monitor.backend,
                self.monitor.actor,
                self.monitor.run_id,
                marker_id,
                marker["end_t"],
                marker["error"],
            )
        except Exception as exc:
            log.warning("labdeck: could not record cell %s: %s", marker["execution_count"], exc)
