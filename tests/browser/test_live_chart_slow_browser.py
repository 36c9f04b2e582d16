"""The live chart draws even when its cell is off-screen and the browser slow.

`Run All Cells` moves on while the live chart is still being built (Plotly
loads in the kernel, its 5 MB widget module in the browser), so on a busy
machine the chart is often drawn while its cell is scrolled away and
JupyterLab has hidden it. CI once saw the quickstart's live chart with no
lines at all. Here the page's CPU is throttled (Chrome DevTools'
`Emulation.setCPUThrottlingRate`) and the notebook is scrolled to its end
while the chart is built; scrolled back, the chart must show every series
and a band per monitored cell."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

SCREENSHOTS = Path(__file__).parent.parent / "screenshots"

FILLER = 30
CELLS = [
    "%load_ext labdeck",
    "%labdeck start --project slow-browser --interval 0.5",
    *(f"# filler cell {i}\\n" + "x = 1\n" * 8 for i in range(FILLER)),
    "import time\ntime.sleep(4)",
    "%labdeck stop",
]


def _notebook(root: Path) -> str:
    name = "slow_browser_chart.ipynb"
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in CELLS
    ]
    document = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(document))
    return name


def test_live_chart_drawn_off_screen_in_a_slow_browser(page: Page, lab: dict[str, str]) -> None:
    name = _notebook(Path(lab["root"]))
    page.set_default_timeout(120_000)
    page.set_viewport_size({"width": 1400, "height": 1000})
    session = page.context.new_cdp_session(page)
    page.goto(f"{lab['url']}/lab/workspaces/slow-browser/tree/{name}?token={lab['token']}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=120_000
    )
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    session.send("Emulation.setCPUThrottlingRate", {"rate": 6})
    # Away from the start cell while its chart is built.
    page.locator(".jp-Notebook .jp-Cell").last.scroll_into_view_if_needed()
    last_prompt = page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputPrompt")
    expect(last_prompt).to_have_text(f"[{len(CELLS)}]:", timeout=180_000)
    session.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    start_cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    start_cell.scroll_into_view_if_needed()
    live = start_cell.locator(".js-plotly-plot").first
    expect(live.locator(".main-svg").first).to_be_visible(timeout=60_000)
    traces = live.locator(".scatterlayer .trace path.js-line")
    expect(traces.first).to_be_attached(timeout=30_000)
    assert traces.count() >= 5
    # Every drawn line has points (a path with a real extent, not "M0,0").
    lengths = traces.evaluate_all("els => els.map(e => (e.getAttribute('d') || '').length)")
    assert sum(1 for n in lengths if n > 10) >= 5, lengths
    bands = live.locator(".shapelayer path")
    assert bands.count() >= 2, "a band for each monitored cell"
    live.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "live-chart-slow-browser.png"), full_page=False)
