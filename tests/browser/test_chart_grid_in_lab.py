"""The live chart's grid follows the notebook's width (issue 13, "panels in
a responsive grid that uses the notebook's width"), in a real JupyterLab:
two columns in a 1400 px window, four and more once the window is made wide,
one once it is made narrow; the traces are drawn each time, and while the
run goes on the x-axis keeps reading as elapsed time (Plotly.js used to
retype it `linear` at the first update: ticks `2000`, `4000`). Screenshots
tests/screenshots/chart-grid-wide.png and chart-grid-narrow.png."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from playwright.sync_api import Page, expect
from test_quickstart_in_lab import open_notebook, run_all_cells

SCREENSHOTS = Path(__file__).parent.parent / "screenshots"
CELLS = [
    "%load_ext labdeck",
    "%labdeck start --project grid --interval 0.5",
    "import time\ntime.sleep(3)",
]


# Distinct left edges of the live chart's panels, from the layout Plotly
# drew (the figure on the page now); 0 before it is drawn.
COLUMNS = (
    "() => { const el = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[1]"
    "?.querySelector('.js-plotly-plot'); if (!el || !el.layout) return 0;"
    " return new Set(Object.keys(el.layout).filter(k => /^xaxis\\d*$/.test(k))"
    ".map(k => el.layout[k].domain[0].toFixed(3))).size }"
)


def wait_for_columns(page: Page, test: str) -> int:
    """Wait until the grid's column count passes `test` (JS, on `n`)."""
    page.wait_for_function(f"() => {{ const n = ({COLUMNS})(); return n > 0 && {test} }}")
    return int(page.evaluate(COLUMNS))


ELAPSED = re.compile(r"\A(\d+:)?\d{1,2}:\d{2}(\.\d+)?\Z")


def drawn(page: Page) -> None:
    """Traces drawn, every x-axis a date axis whose ticks read as elapsed
    time, after the sampler's updates of a running run."""
    plot = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".js-plotly-plot").first
    expect(plot.locator(".scatterlayer .trace path.js-line").first).to_be_attached()
    page.wait_for_timeout(1500)  # the next updates (interval 0.5 s) arrived
    types = plot.evaluate(
        "el => Object.keys(el._fullLayout).filter(k => /^xaxis\\d*$/.test(k))"
        ".map(k => el._fullLayout[k].type)"
    )
    assert types and set(types) == {"date"}, types
    ticks = [t.strip() for t in plot.locator(".xtick text").all_text_contents()]
    assert ticks and all(ELAPSED.match(t) for t in ticks), ticks


def test_the_live_charts_grid_follows_the_notebooks_width(page: Page, lab: dict[str, str]) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    (Path(lab["root"]) / "grid.ipynb").write_text(json.dumps(notebook))
    open_notebook(page, lab, "grid.ipynb")
    run_all_cells(page)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=120_000
    )
    drawn(page)
    assert wait_for_columns(page, "true") == 2

    page.set_viewport_size({"width": 2400, "height": 1000})
    assert wait_for_columns(page, "n >= 4") >= 4
    drawn(page)
    page.screenshot(path=str(SCREENSHOTS / "chart-grid-wide.png"), full_page=False)

    page.set_viewport_size({"width": 900, "height": 1000})
    assert wait_for_columns(page, "n === 1") == 1
    drawn(page)
    page.screenshot(path=str(SCREENSHOTS / "chart-grid-narrow.png"), full_page=False)
