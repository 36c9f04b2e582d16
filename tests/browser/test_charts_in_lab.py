"""Charts a person reads at a glance (issue 13), in a real JupyterLab: after a
cell that burns CPU for 3 s the live chart's x-axis reads as elapsed time,
its band carries the prompt number the notebook shows, the browser console
has no errors, the comparison chart of two runs starts both at 0, and a
second view of the saved notebook draws the live chart with its panels
apart (once, the y-axes of a second view were drawn on top of each other).
Screenshots go to tests/screenshots/ (charts-live.png, charts-compare.png,
charts-second-view.png)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import ConsoleMessage, Page, expect
from test_quickstart_in_lab import open_notebook, run_all_cells

SCREENSHOTS = Path(__file__).parent.parent / "screenshots"

ELAPSED = re.compile(r"\A(\d+:)?\d{1,2}:\d{2}(\.\d+)?\Z")
BURN = "# burn CPU for 3 s\nimport time\nend = time.time() + 3\nwhile time.time() < end:\n    pass"
CELLS = [
    "%load_ext labdeck",
    "%labdeck start --project charts --interval 0.5",
    BURN,
    "%labdeck stop",
    "import labdeck\n"
    "with labdeck.monitor(project='charts', interval=0.25) as light:\n"
    "    time.sleep(1)\n"
    # A second of CPU whatever the machine's speed: a run shorter than two
    # intervals has one CPU point (a percentage needs two samples), drawn
    # as a marker; this test wants lines.
    "with labdeck.monitor(project='charts', interval=0.25) as heavy:\n"
    "    end = time.time() + 1\n"
    "    while time.time() < end:\n"
    "        pass",
    "labdeck.chart([light.id, heavy.id], keys=['cpu', 'proc.memory.rssMB'])",
]


def plots(page: Page, cell: int) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell").nth(cell).locator(".js-plotly-plot")


def first_x(page: Page, cell: int) -> list[list[Any]]:
    """[trace name, first x, points] of every trace of a cell's plots, from
    Plotly's own data on each graph div."""
    return plots(page, cell).evaluate_all(
        "els => els.flatMap(el => (el.data || []).map(d => [d.name, d.x ? Number(d.x[0]) : null,"
        " d.x ? d.x.length : 0]))"
    )


def test_charts_read_as_elapsed_time_with_numbered_bands(page: Page, lab: dict[str, str]) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    (Path(lab["root"]) / "charts.ipynb").write_text(json.dumps(notebook))
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc} {exc.stack}"))
    open_notebook(page, lab, "charts.ipynb", width=1400, height=1100)
    try:
        run_all_cells(page)
        check(page, errors)
        second_view(page, lab)
    finally:
        page.screenshot(path=str(SCREENSHOTS / "charts-end.png"), full_page=True)
        print("console errors:", errors)


def check(page: Page, errors: list[str]) -> None:
    # The comparison chart, last, is drawn: everything ran.
    expect(plots(page, 5).first.locator(".main-svg").first).to_be_visible(timeout=240_000)
    compare_traces = plots(page, 5).locator(".scatterlayer .trace")
    expect(compare_traces.first).to_be_attached()

    # The live chart: traces drawn, elapsed-time ticks, the burn's band numbered.
    live = plots(page, 1)
    expect(live.first.locator(".scatterlayer .trace path.js-line").first).to_be_attached()
    assert live.count() == 1, "one figure"
    assert live.locator(".cartesianlayer > g.subplot").count() >= 4, "a grid of panels"
    lines = live.locator(".scatterlayer .trace path.js-line")
    assert lines.count() >= 4
    assert all(
        len(d or "") > 10 for d in lines.evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    )
    ticks = [t.strip() for t in live.locator(".xtick text").all_text_contents()]
    assert ticks and all(ELAPSED.match(t) for t in ticks), ticks
    prompt = page.locator(".jp-Notebook .jp-CodeCell").nth(2).locator(".jp-InputPrompt")
    # textContent: innerText is empty while JupyterLab's windowing leaves
    # the cell off-screen un-rendered.
    shown = re.search(r"\[(\d+)\]", prompt.text_content() or "")
    assert shown is not None, prompt.text_content()
    labels = live.locator(".annotation-text").all_text_contents()
    assert any(label.startswith(f"[{shown.group(1)}]") for label in labels), (shown, labels)
    header = (
        page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".widget-html").all_text_contents()
    )
    assert any("CPU (process)" in h and "RSS" in h for h in header), header
    legend = live.locator(".infolayer text, .legend text").all_text_contents()
    assert "CPU (process)" in legend and "RSS" in legend, legend
    live.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "charts-live.png"), full_page=False)

    # The comparison chart: both runs from 0, named in the legend.
    compared = first_x(page, 5)
    assert len(compared) == 4, compared
    starts: dict[str, float] = {}
    for name, x, points in compared:
        # The legend says which run is which: each trace named after its run.
        run = name.split(" · ")[0]
        assert points >= 2, compared
        starts[run] = min(starts.get(run, x), x)
    # Both runs start at 0: their first sample, whatever their wall-clock times.
    assert len(starts) == 2 and set(starts.values()) == {0}, compared
    plots(page, 5).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "charts-compare.png"), full_page=False)
    assert [e for e in errors if not slow_module(e)] == [], errors


def second_view(page: Page, lab: dict[str, str]) -> None:
    """The notebook opened again, in another workspace (a second view of the
    same kernel's widgets): the live chart draws there too, its panels side
    by side and stacked, never drawn on top of each other."""
    # Saved first: the second view reads the notebook's outputs from its file.
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=30_000)
    other = page.context.new_page()
    other.set_default_timeout(120_000)
    other.set_viewport_size({"width": 1400, "height": 1100})
    other.goto(f"{lab['url']}/lab/workspaces/second/tree/charts.ipynb?token={lab['token']}")
    other.wait_for_selector("#jupyterlab-splash", state="detached")
    live = plots(other, 1)
    try:
        expect(live.first.locator(".scatterlayer .trace path.js-line").first).to_be_attached(
            timeout=90_000
        )
    finally:
        other.screenshot(path=str(SCREENSHOTS / "charts-second-view.png"), full_page=False)
    boxes = live.first.locator(".cartesianlayer > g.subplot .bg, .bglayer rect.bg").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [Math.round(r.x), Math.round(r.y)]; })"
    )
    assert len(boxes) >= 4 and len(set(map(tuple, boxes))) == len(boxes), boxes
    live.first.scroll_into_view_if_needed()
    other.screenshot(path=str(SCREENSHOTS / "charts-second-view.png"), full_page=False)
    other.close()


def slow_module(error: str) -> bool:
    """anywidget gives a widget's module 2 s to load and reports a page error
    past that, even when the widget then loads and draws (both charts are
    checked above). Plotly's module is 4.6 MB and each FigureWidget loads it
    anew, which takes longer than 2 s on a loaded machine. Only this
    message is forgiven, and only when everything drew."""
    return "[anywidget] Failed to initialize model" in error
