"""Cell markers (F-SM-9): each cell executed while a monitor runs is recorded
with its execution count and first source line, start and end.

IPython's `pre_run_cell`/`post_run_cell` events fire on the kernel's main
thread, so the writes (to the database, or to the service) go to a one-thread
executor: the user's cell
never waits on them, and their order is kept.

The prompt number: IPython 8 increments `execution_count` after the cell,
IPython 9 before `pre_run_cell`, so at `pre_run_cell` the number the notebook
shows is `execution_count` on 8 and `execution_count - 1` on 9 (a nested
`%%labdeck` cell, which stores no history, is not counted on either, so the
same rule gives it its outer cell's number).

Each cell's ledger row (F-SM-12, `ledger.py`) is reckoned from the monitor's
samples once one at or after the cell's end has arrived, and written with
the marker's end; the live table hears of it through `Monitor.publish_cell`.
When the monitor stops, cells still waiting are reckoned after its last
sample (a stop hook), then written.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import IPython
from IPython.core.interactiveshell import InteractiveShell

from .ledger import USAGE_FIELDS, CellLedger, kernel_probe
from .session import Monitor

log = logging.getLogger("labdeck")

# IPython >= 9 counts a cell before `pre_run_cell` fires.
COUNTS_FIRST = int(IPython.version_info[0]) >= 9


def shown_count(shell: InteractiveShell) -> int:
    """The prompt number of the cell running now, as the notebook shows it."""
    count = int(shell.execution_count)
    return count - 1 if COUNTS_FIRST else count


class CellMarkers:
    def __init__(self, shell: InteractiveShell, monitor: Monitor) -> None:
        self.shell = shell
        self.monitor = monitor
        self.paused = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labdeck-markers")
        self._open: Future[dict[str, Any]] | None = None
        self._current: dict[str, Any] | None = None
        self._token = 0
        self._source = ""
        self.ledger = CellLedger(kernel_probe())
        monitor.add_sink(self.ledger)

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
            self._close(opened, marker)
        for event, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        if self.monitor.state == "running":
            # The cells waiting for a sample after their end get the monitor's
            # last one (its closing sample) when it stops.
            self.monitor.add_stop_hook(self._finish)
        else:
            self._finish()

    def _finish(self) -> None:
        self.ledger.finish()
        self._executor.shutdown(wait=True)

    def pre_run_cell(self, info: Any) -> None:
        if self.paused or self.monitor.state != "running":
            return
        source = getattr(info, "raw_cell", "") or ""
        count = shown_count(self.shell)
        first_line = source.strip().splitlines()[0] if source.strip() else ""
        start = time.time()
        marker = {
            "execution_count": count,
            "first_line": first_line,
            "start_t": start,
            "end_t": None,
        }
        self._current = marker
        self._source = source
        self._token = self.ledger.open(start)
        self.monitor.publish_marker(marker)
        self._open = self._executor.submit(
            self.monitor.client.add_marker,
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
        self._close(opened, marker)

    def _close(self, opened: Future[dict[str, Any]], marker: dict[str, Any]) -> None:
        source = self._source if self.monitor.saves_code else None
        if source is not None:
            self._executor.submit(self._save_source, opened, marker, source)

        def done(usage: dict[str, Any]) -> None:
            row = dict(marker, **usage)
            if source is not None:
                row["source"] = source
            self.monitor.publish_cell(row)
            try:
                self._executor.submit(self._end, opened, row)
            except RuntimeError:  # shut down: the kernel is going away
                log.warning("labdeck: cell %s not recorded", marker["execution_count"])

        self.ledger.close(self._token, marker["end_t"], done)

    def _save_source(
        self, opened: Future[dict[str, Any]], marker: dict[str, Any], source: str
    ) -> None:
        """The cell's whole source as a run file (F-TS-4), when the run saves code."""
        try:
            marker_id = opened.result()["id"]
            count = marker["execution_count"]
            name = f"In [{count}]" if count is not None else "cell"
            self.monitor.client.save_code(self.monitor.run_id, "cell", name, source, marker_id)
        except Exception as exc:
            log.warning("labdeck: could not save cell %s: %s", marker["execution_count"], exc)

    def _end(self, opened: Future[dict[str, Any]], row: dict[str, Any]) -> None:
        marker = row
        try:
            marker_id = opened.result()["id"]
            self.monitor.client.end_marker(
                self.monitor.run_id,
                marker_id,
                marker["end_t"],
                marker["error"],
                usage={key: row.get(key) for key in USAGE_FIELDS},
            )
        except Exception as exc:
            log.warning("labdeck: could not record cell %s: %s", marker["execution_count"], exc)
