"""Wires a monitor's per-cell ledger rows to the ledger table of the widgets
layer (F-SM-12), and a click on a row to the live chart's band. Like
`charting`, a door of the kernel to the widgets (the import contract names
both); the ledger (`ledger.py`) knows no table and the table knows no kernel.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .session import Monitor

log = logging.getLogger("labdeck")


class PendingLedger:
    """Holds rows until the table exists, then hands them, and every later
    one, to it."""

    def __init__(self) -> None:
        self.shown = threading.Event()
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._table: Any = None
        self.build: Callable[[], None] = lambda: None

    def row(self, row: dict[str, Any]) -> None:
        with self._lock:
            if self._table is None:
                self._rows.append(row)
                return
            table = self._table
        table.add_row(row)

    def connect(self, table: Any) -> None:
        with self._lock:
            for row in self._rows:
                table.rows.append(dict(row))
            self._rows, self._table = [], table
        table.render()
        self.shown.set()

    def wait(self, timeout: float | None = None) -> Any:
        """The table once it is shown (None if not within `timeout`)."""
        self.shown.wait(timeout)
        return self._table


def attach_ledger_when_ready(
    monitor: Monitor, ready: Callable[[], None], chart: Callable[[], Any]
) -> PendingLedger:
    """`%labdeck start`: show the table's place under the chart now, and the
    table there once `ready()` returns; `chart()` is the live chart (or
    None) whose band a clicked row highlights."""
    from IPython.display import HTML, display

    relay = PendingLedger()
    monitor.add_cell_sink(relay.row)
    handle = display(HTML(""), display_id=True)

    def build() -> None:
        try:
            ready()
            from labdeck.widgets.ledger import LedgerTable, highlight

            table = LedgerTable(
                title=f"cells of run {monitor.run_id}",
                on_select=lambda row: highlight(chart(), row),
            )
            relay.connect(table)
            if handle is not None:
                handle.update(table.widget)
        except Exception as exc:
            log.warning("labdeck: the ledger table could not be shown: %s", exc)

    relay.build = lambda: threading.Thread(
        target=build, name="labdeck-ledger-start", daemon=True
    ).start()
    return relay
