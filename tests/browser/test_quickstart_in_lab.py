"""The quickstart notebook in a real browser: it runs, the live chart's SVG
shows traces and at least one cell band, and the settings tabs render."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

SCREENSHOTS = Path(__file__).parent.parent / "screenshots"


def open_notebook(
    page: Page, lab: dict[str, str], name: str, *, width: int = 1400, height: int = 1000
) -> None:
    """Open `name` (in the server's root) in a JupyterLab workspace of its
    own (named after it: a shared one would restore the last test's
    notebook in front), and wait for its kernel to be idle."""
    page.set_default_timeout(120_000)
    page.set_viewport_size({"width": width, "height": height})
    workspace = name.removesuffix(".ipynb")
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{name}?token={lab['token']}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=120_000
    )


def run_all_cells(page: Page) -> None:
    """Run -> Run All Cells, through JupyterLab's own menu. On a loaded machine
    the first click can land before the notebook is the current widget, and
    the command then does nothing: retry until a prompt shows the cell ran."""
    started = page.locator(".jp-Notebook .jp-InputPrompt").filter(has_text=re.compile(r"\[[*0-9]"))
    for _ in range(5):
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            expect(started.first).to_be_attached(timeout=15_000)
            return
        except AssertionError:
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells never started the notebook")


def test_quickstart_runs_in_jupyterlab(page: Page, lab: dict[str, str]) -> None:
    open_notebook(page, lab, "quickstart.ipynb")
    run_all_cells(page)

    live = page.locator(".js-plotly-plot").first
    expect(live.locator(".main-svg").first).to_be_visible(timeout=120_000)
    # Wait for the last cell (the settings forms) to render: everything ran.
    tabs = page.locator(".jp-OutputArea .lm-TabBar-tab, .jp-OutputArea .widget-tab .lm-TabBar-tab")
    expect(tabs.first).to_be_visible(timeout=180_000)
    assert tabs.count() >= 3
    # Back to the start cell's chart, as a person scrolls to it: JupyterLab
    # renders only the cells near the viewport, so after Run All the first
    # chart in the page need not be the live one.
    start_cell = page.locator(".jp-Notebook .jp-Cell").filter(has_text="%labdeck start").first
    start_cell.scroll_into_view_if_needed()
    live = start_cell.locator(".js-plotly-plot").first
    traces = live.locator(".scatterlayer .trace path.js-line")
    expect(traces.first).to_be_attached(timeout=60_000)
    assert traces.count() >= 5
    bands = live.locator(".layer-below .shapelayer path, .shapelayer path")
    assert bands.count() >= 1, "cell markers are drawn as bands"
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0
    live.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "quickstart-live-chart.png"), full_page=False)
    tabs.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "quickstart-settings.png"), full_page=False)
