"""The per-cell ledger in a notebook (F-SM-12): a sortable table, live under
the `%labdeck start` chart or of a stored run (`labdeck.cells(run)`), and
`labdeck.compare_cells(run_a, run_b)`.

Only the view is here; what a row says, how rows sort and how two runs'
cells line up is `labdeck.backend.cells`. Clicking a row calls `on_select`
with it (the kernel's door highlights that cell's band on the chart). The
colours are JupyterLab's CSS variables, so the table follows the theme.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from labdeck.backend import cells as logic
from labdeck.client import mode
from labdeck.client.base import Client

if TYPE_CHECKING:
    import ipywidgets as w

    from labdeck.backend.context import Backend

Row = dict[str, Any]


def notebook_client(backend: Backend | None = None) -> Client:
    """The process's client (as `history.notebook_client`; not imported, since
    `history.runs` makes this module's `StoredRun`)."""
    return mode.for_backend(backend) if backend is not None else mode.client()


STYLE = """<style>
.labdeck-ledger { font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); border: 1px solid var(--jp-border-color2);
  max-height: 320px; overflow-y: auto; }
.labdeck-ledger .labdeck-ledger-cell { background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1); border: 0; border-bottom: 1px solid var(--jp-border-color3);
  border-radius: 0; margin: 0; padding: 0 6px; height: 24px; text-align: right;
  box-shadow: none; font-family: var(--jp-code-font-family); font-size: var(--jp-ui-font-size1); }
.labdeck-ledger .labdeck-ledger-cell.labdeck-ledger-text { text-align: left; }
.labdeck-ledger .labdeck-ledger-head { background: var(--jp-layout-color2);
  color: var(--jp-ui-font-color1); font-weight: 600; font-family: var(--jp-ui-font-family);
  position: sticky; top: 0; z-index: 1; }
.labdeck-ledger .labdeck-ledger-selected { background: var(--jp-brand-color3);
  color: var(--jp-ui-font-color0); }
.labdeck-ledger .labdeck-ledger-cell:hover { background: var(--jp-layout-color2); }
.labdeck-ledger-source pre { background: var(--jp-cell-editor-background);
  color: var(--jp-content-font-color1); border: 1px solid var(--jp-border-color2);
  font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);
  padding: 4px 8px; margin: 4px 0; max-height: 240px; overflow: auto; }
.labdeck-ledger-caption { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); }
</style>"""


def run_id_of(run: Any) -> str:
    """A run named by its id, a `RunHandle` (`.id`) or a row of `labdeck.runs()`."""
    if isinstance(run, str):
        return run
    if isinstance(run, dict) and "id" in run:
        return str(run["id"])
    run_id = getattr(run, "id", None)
    if isinstance(run_id, str):
        return run_id
    raise TypeError(f"not a run: {run!r} (give a run id, a run handle or a row of labdeck.runs())")


class LedgerTable:
    """The ledger as an ipywidgets grid: click a column's title to sort by
    it (again to reverse), click a row to select its cell."""

    def __init__(
        self,
        rows: Sequence[Row] = (),
        *,
        title: str = "",
        on_select: Callable[[Row], None] | None = None,
    ) -> None:
        import ipywidgets as w

        self._w = w
        self._lock = threading.Lock()
        self.rows: list[Row] = list(rows)
        self.sort_key: str | None = None
        self.descending = False
        self.selected: Row | None = None
        self.on_select = on_select
        self._grid = w.GridBox(layout=w.Layout(grid_gap="0px", width="100%"))
        self._grid.add_class("labdeck-ledger")
        self._caption = w.HTML()
        self._caption.add_class("labdeck-ledger-caption")
        # The selected cell's saved source (F-TS-4), when its run saves code.
        self._source = w.HTML()
        self._source.add_class("labdeck-ledger-source")
        self.widget = w.VBox([w.HTML(STYLE), self._caption, self._grid, self._source])
        self.title = title
        self.render()

    # -- the data -------------------------------------------------------------
    def add_row(self, row: Row) -> None:
        """A cell finished (live): its row joins the table."""
        with self._lock:
            self.rows.append(dict(row))
        self.render()

    def view(self) -> list[Row]:
        rows = list(self.rows)
        return (
            rows if self.sort_key is None else logic.sort_rows(rows, self.sort_key, self.descending)
        )

    def sort(self, key: str, descending: bool | None = None) -> None:
        if descending is None:
            descending = not self.descending if key == self.sort_key else key != "first_line"
        self.sort_key, self.descending = key, descending
        self.render()

    def select(self, row: Row) -> None:
        self.selected = row
        source = row.get("source")
        self._source.value = (
            f"<pre>{html.escape(source)}</pre>" if isinstance(source, str) and source else ""
        )
        self.render()
        if self.on_select is not None:
            self.on_select(row)

    # -- the view -------------------------------------------------------------
    def _cell(self, text: str, *, numeric: bool, classes: Sequence[str] = ()) -> w.Button:
        w = self._w
        button = w.Button(description=text, tooltip=text, layout=w.Layout(width="auto"))
        button.add_class("labdeck-ledger-cell")
        if not numeric:
            button.add_class("labdeck-ledger-text")
        for name in classes:
            button.add_class(name)
        return button

    def render(self) -> None:
        with self._lock:
            rows = self.view()
            columns = logic.columns_for(rows)
        children: list[Any] = []
        for column in columns:
            arrow = (" ▼" if self.descending else " ▲") if column.key == self.sort_key else ""
            head = self._cell(
                column.title + arrow, numeric=column.numeric, classes=["labdeck-ledger-head"]
            )
            head.on_click(lambda _b, key=column.key: self.sort(key))
            children.append(head)
        for row in rows:
            selected = row is self.selected
            for column in columns:
                text = column.text(row)
                if column.key == "first_line":
                    text = text if len(text) <= 48 else text[:47] + "…"
                cell = self._cell(
                    text,
                    numeric=column.numeric,
                    classes=["labdeck-ledger-selected"] if selected else [],
                )
                if column.key == "first_line":
                    cell.tooltip = row.get("first_line") or ""
                cell.on_click(lambda _b, r=row: self.select(r))
                children.append(cell)
        widths = ["minmax(40px, auto)" if c.numeric else "minmax(160px, 2fr)" for c in columns]
        self._grid.layout.grid_template_columns = " ".join(widths)
        self._grid.children = children
        count = len(rows)
        self._caption.value = html.escape(
            f"{self.title + ' · ' if self.title else ''}{count} cell{'s' if count != 1 else ''}"
            " · click a title to sort, a row to highlight its band"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


class StoredRun(dict[str, Any]):
    """A row of `labdeck.runs()`: the run's fields, and its ledger."""

    def __init__(self, row: Row, client: Client) -> None:
        super().__init__(row)
        self._client = client

    @property
    def id(self) -> str:
        return str(self["id"])

    def cells(self) -> list[Row]:
        """The run's per-cell ledger, one row per executed cell (with its
        `source` where the run saved code)."""
        return rows_with_source(self._client, self.id)

    def code(self) -> list[Row]:
        """The code the run saved, in order (F-TS-4); empty when it saved none."""
        return list(self._client.list_code(self.id)["files"])

    def ledger(self) -> LedgerTable:
        return LedgerTable(self.cells(), title=f"run {self.id}")


def rows_with_source(client: Client, run_id: str) -> list[Row]:
    """The run's ledger rows, each with its cell's saved `source` (F-TS-4)
    where the run saved code."""
    rows = client.list_cells(run_id)
    saved = client.list_code(run_id)
    sources = {
        f["marker_id"]: f["text"]
        for f in saved["files"]
        if f["kind"] == "cell" and f.get("marker_id") is not None and f.get("text") is not None
    }
    for row in rows:
        if row["id"] in sources:
            row["source"] = sources[row["id"]]
    return rows


def highlight(chart: Any, row: Row) -> None:
    """The chart's band of the row's cell, highlighted where the chart can
    (`highlight_band`, the live and stored-run charts')."""
    if chart is not None and hasattr(chart, "highlight_band"):
        chart.highlight_band(row["start_t"])


def cells(run: Any, *, chart: Any = None, backend: Backend | None = None) -> LedgerTable:
    """The ledger table of a stored run (its rows in `.rows`); a click on a
    row shows its cell's source where the run saved code, and highlights
    its band on `chart` (a `labdeck.chart(run)` figure) when given."""
    run_id = run_id_of(run)
    return LedgerTable(
        rows_with_source(notebook_client(backend), run_id),
        title=f"run {run_id}",
        on_select=(lambda row: highlight(chart, row)) if chart is not None else None,
    )


class CellComparison:
    """Two runs' cells lined up by source (`labdeck.backend.cells.compare`);
    renders as a table with the changes, slower or heavier cells marked."""

    def __init__(self, run_a: str, run_b: str, rows: list[Row]) -> None:
        self.run_a, self.run_b, self.rows = run_a, run_b, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    @staticmethod
    def _figure(key: str, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value / logic.MB:,.1f}" if key.endswith("bytes") else f"{value:,.2f}"

    def _change(self, row: Row, key: str) -> str:
        delta, ratio = row[f"{key}_delta"], row[f"{key}_ratio"]
        if delta is None:
            return "–"
        sign = "+" if delta >= 0 else "−"
        text = f"{sign}{self._figure(key, abs(delta))}"
        return text + (f" (×{ratio:.2f})" if ratio is not None else "")

    def _repr_html_(self) -> str:
        heads = ["cell", "In (a)", "In (b)"]
        for _, title, _ in logic.COMPARED:
            heads += [f"{title} a", f"{title} b", "change"]
        body = []
        for row in self.rows:
            flag = " ⚠ slower" if row["slower"] else ""
            flag += " ⚠ heavier" if row["heavier"] else ""
            cells_ = [
                html.escape(row["first_line"][:60]) + f"<b>{flag}</b>",
                html.escape(str(row["a_execution_count"] or "–")),
                html.escape(str(row["b_execution_count"] or "–")),
            ]
            for key, _, _ in logic.COMPARED:
                cells_ += [
                    self._figure(key, row[f"{key}_a"]),
                    self._figure(key, row[f"{key}_b"]),
                    self._change(row, key),
                ]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells_) + "</tr>")
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        return (
            f"<b>cells of {html.escape(self.run_a)} (a) vs {html.escape(self.run_b)} (b)</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def __repr__(self) -> str:
        lines = [f"cells of {self.run_a} (a) vs {self.run_b} (b)"]
        for row in self.rows:
            lines.append(
                f"{row['first_line'][:40]!r}: duration {self._change(row, 'duration_s')}, "
                f"CPU {self._change(row, 'cpu_seconds')}, "
                f"peak RSS {self._change(row, 'rss_peak_bytes')} MB"
            )
        return "\n".join(lines)


def compare_cells(run_a: Any, run_b: Any, *, backend: Backend | None = None) -> CellComparison:
    """What got slower or heavier from `run_a` to `run_b`: their cells lined
    up by source (a cell run twice is matched in order)."""
    client = notebook_client(backend)
    a, b = run_id_of(run_a), run_id_of(run_b)
    return CellComparison(
        a, b, logic.compare(rows_with_source(client, a), rows_with_source(client, b))
    )
