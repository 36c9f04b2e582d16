"""The ledger table widget (F-SM-12): rows arrive live, a title click sorts
(again reverses, missing figures last), a row click selects it, shows its
saved source and calls `on_select`, which highlights the chart's band where
the chart has `highlight_band`."""

from __future__ import annotations

from typing import Any

from labdeck.widgets.ledger import LedgerTable, highlight


def row(count: int, line: str, cpu: float | None, source: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "execution_count": count,
        "first_line": line,
        "start_t": 100.0 + count,
        "end_t": 101.0 + count,
        "cpu_seconds": cpu,
        "rss_peak_bytes": 2**20 * count,
        "rss_delta_bytes": 0,
        "gpus": [],
    }
    if source is not None:
        out["source"] = source
    return out


def texts(table: LedgerTable) -> list[str]:
    return [child.description for child in table._grid.children]


class Chart:
    def __init__(self) -> None:
        self.bands: list[float] = []

    def highlight_band(self, start_t: float) -> None:
        self.bands.append(start_t)


def test_sorting_selecting_and_the_band() -> None:
    chart = Chart()
    table = LedgerTable(on_select=lambda r: highlight(chart, r))
    for r in (row(1, "load()", 0.5), row(2, "train()", 9.0, "train()\nmore()"), row(3, "x", None)):
        table.add_row(r)
    columns = len(texts(table)) // 4  # a header and three rows
    assert texts(table)[:4] == ["In", "Cell", "Duration (s)", "CPU (s)"]
    assert [texts(table)[columns * k + 1] for k in (1, 2, 3)] == ["load()", "train()", "x"]

    cpu_head = table._grid.children[3]
    cpu_head.click()  # largest first
    assert texts(table)[3] == "CPU (s) ▼"
    assert [texts(table)[columns * k + 1] for k in (1, 2, 3)] == ["train()", "load()", "x"]
    table._grid.children[3].click()  # reversed; the missing figure stays last
    assert [texts(table)[columns * k + 1] for k in (1, 2, 3)] == ["load()", "train()", "x"]

    train_cell = table._grid.children[columns * 2 + 1]
    train_cell.click()
    assert chart.bands == [102.0]
    assert table.selected is not None and table.selected["first_line"] == "train()"
    assert "train()\nmore()" in table._source.value
    selected = [c for c in table._grid.children if "labdeck-ledger-selected" in c._dom_classes]
    assert len(selected) == columns
    highlight(object(), table.rows[0])  # a chart without highlight_band: nothing to do
