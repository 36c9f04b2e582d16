"""The per-cell ledger in a real JupyterLab (F-SM-12): under the live chart
of `%labdeck start`, the row of a cell that burns CPU for 3 s shows at least
2 CPU-seconds; a click on a column's title sorts by it; a click on the row
selects it and highlights the cell's band on the live chart above it."""

from __future__ import annotations

from pathlib import Path

import nbformat
from playwright.sync_api import Page, expect
from test_quickstart_in_lab import SCREENSHOTS, open_notebook, run_all_cells

from labdeck.widgets.panels import HIGHLIGHT_BAND

BURN_LINE = "# burn 3 s of CPU"
CELLS = [
    "%load_ext labdeck",
    "%labdeck start --project ledger-browser --interval 0.5",
    f"{BURN_LINE}\nimport time\nt0 = time.process_time()\nwhile time.process_time() - t0 < 3: pass",
    "x = sum(range(10))",
    "time.sleep(1.5)\n%labdeck stop",
]


def texts(page: Page) -> list[str]:
    cells = page.locator(".labdeck-ledger .labdeck-ledger-cell")
    return [t.strip() for t in cells.all_inner_texts()]


def test_ledger_row_of_a_burn_cell(page: Page, lab: dict[str, str]) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, Path(lab["root"]) / "ledger.ipynb")
    open_notebook(page, lab, "ledger.ipynb")
    run_all_cells(page)

    table = page.locator(".labdeck-ledger")
    expect(table).to_be_visible(timeout=120_000)
    burn = table.locator(".labdeck-ledger-cell", has_text=BURN_LINE)
    expect(burn).to_be_visible(timeout=120_000)
    # The last cell's row (the stop) means every row is in.
    expect(table.locator(".labdeck-ledger-cell", has_text="time.sleep(1.5)")).to_be_visible(
        timeout=120_000
    )
    shown = texts(page)
    titles = shown[: shown.index("In") + 8]  # the header: In, Cell, Duration, CPU (s), …
    cpu_column = titles.index("CPU (s)") - titles.index("Cell")
    at = shown.index(BURN_LINE)
    cpu = float(shown[at + cpu_column])
    assert cpu >= 2.0, (cpu, shown)
    prompt = shown[at - 1]  # "[3]": the prompt number the notebook shows
    notebook_prompts = page.locator(".jp-Notebook .jp-InputPrompt").all_inner_texts()
    assert any(prompt in p for p in notebook_prompts), (prompt, notebook_prompts)

    # Sort by CPU, largest first: the burn cell is the first row.
    table.locator(".labdeck-ledger-head", has_text="CPU (s)").click()
    expect(table.locator(".labdeck-ledger-head", has_text="CPU (s) ▼")).to_be_visible()
    shown = texts(page)
    header = len(titles)
    assert shown[header + 1] == BURN_LINE, shown

    # Click the row: it is selected (the kernel re-rendered the table) and
    # the live chart above draws that cell's band highlighted, on every panel.
    live = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".js-plotly-plot").first
    highlighted = (
        f"el => (el.layout.shapes || []).filter(s => s.fillcolor === '{HIGHLIGHT_BAND}').length"
    )
    assert live.evaluate(highlighted) == 0
    burn.click()
    expect(table.locator(".labdeck-ledger-selected", has_text=BURN_LINE)).to_be_visible()
    page.wait_for_function(
        "() => { const el = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[1]"
        "?.querySelector('.js-plotly-plot'); return !!el && "
        f"({highlighted})(el) >= 4 }}"
    )
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "ledger-in-lab.png"), full_page=False)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0
