"""The chart's layout (issue 13, items 1 and 2), checked on the figures it
builds: the x-axis is time elapsed since the run started, every series has
its readable name, raw key and one colour wherever it appears, process and
system quantities never share an axis, band labels never overlap and carry
the cell's number, single points are markers, `highlight_band` marks one
band, and stored runs compared on one chart both start at 0."""

from __future__ import annotations

import re

from labdeck.backend.catalogue import KEYS, describe
from labdeck.backend.services import identity, ingest, projects, runs
from labdeck.widgets.history import chart
from labdeck.widgets.live import LiveChart
from labdeck.widgets.panels import (
    CHAR_PX,
    HIGHLIGHT_BAND,
    band_shapes,
    elapsed_axis,
    format_elapsed,
    is_elapsed,
    series_colour,
)

T0 = 1_760_000_000.0
HOST = {
    "cpu": 97.0,
    "proc.cpu.threads": 12.0,
    "proc.memory.rssMB": 150.0,
    "proc.memory.percent": 0.7,
    "memory": 41.0,
    "proc.memory.availableMB": 21_000.0,
    "disk.in": 1.0,
    "disk.out": 2.0,
    "disk./.usagePercent": 60.0,
    "disk./.usageGB": 300.0,
    "network.sent": 1e5,
    "network.recv": 2e5,
    "cpu.0.cpu_percent": 50.0,
    "cpu.1.cpu_percent": 20.0,
    "gpu.0.gpu": 90.0,
    "gpu.0.memoryAllocated": 40.0,
    "gpu.0.memoryAllocatedBytes": 3e10,
    "gpu.0.memory": 30.0,
    "gpu.0.powerPercent": 70.0,
}


def live(samples: list[tuple[float, dict[str, float]]]) -> LiveChart:
    chart = LiveChart(interactive=False)
    for t, values in samples:
        chart(t, values)
    chart.close()
    return chart


def test_elapsed_time_formats() -> None:
    assert format_elapsed(5) == "0:05"
    assert format_elapsed(90) == "1:30"
    assert format_elapsed(5400) == "1:30:00"
    assert all(is_elapsed(t) for t in ("0:05", "12:30", "1:30:00", "0:00.500"))
    assert not any(is_elapsed(t) for t in ("1.7961835T", "Jan 1, 1970", "14:03"[:2]))
    short, long = elapsed_axis(300), elapsed_axis(7200)
    assert short["type"] == "date"
    stops = {tuple(s["dtickrange"]): s["value"] for s in short["tickformatstops"]}
    assert stops[(1000, 3_600_000)] == "%-M:%S" and stops[(3_600_000, None)] == "%-H:%M:%S"
    # Past an hour, every tick carries the hours: a zoom never reads `5:00`.
    assert all(s["value"].startswith("%-H") for s in long["tickformatstops"])


def test_x_is_elapsed_ms_from_the_first_sample_and_hover_has_the_wall_clock() -> None:
    chart = live([(T0 + i * 0.5, {"proc.memory.rssMB": 100.0 + i}) for i in range(5)])
    (trace,) = chart.data
    assert list(trace.x) == [0.0, 500.0, 1000.0, 1500.0, 2000.0]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", text) for text in trace.text)
    assert trace.meta == "proc.memory.rssMB" and trace.name == "RSS"
    assert "%{meta}" in trace.hovertemplate and "%{text}" in trace.hovertemplate


def test_names_colours_and_one_unit_a_panel() -> None:
    chart = live([(T0, HOST), (T0 + 1, HOST)])
    names = {t.meta: t.name for t in chart.data}
    assert names["cpu"] == "CPU (process)"
    assert names["proc.memory.rssMB"] == "RSS"
    assert names["gpu.0.memoryAllocatedBytes"] == "GPU 0 memory"
    assert names["gpu.0.gpu"] == "GPU 0 utilization"
    legends = set()
    for panel, traces in chart.view.panel_traces().items():
        colours = [t.line.color for t in traces]
        assert len(colours) == len(set(colours)), panel
        assert len({describe(t.meta).unit for t in traces}) == 1, panel
        assert len({(t.xaxis, t.yaxis) for t in traces}) == 1, panel
        # One legend a panel, drawn under it.
        (legend,) = {t.legend for t in traces}
        legends.add(legend)
    assert len(legends) == len(chart.view.panels) >= 8
    # The same colour for the same key on another chart.
    other = live([(T0, {"cpu": 1.0, "proc.memory.rssMB": 2.0})])
    assert {t.meta: t.line.color for t in other.data} == {
        "cpu": series_colour("cpu"),
        "proc.memory.rssMB": series_colour("proc.memory.rssMB"),
    }


def test_the_header_line_shows_current_values() -> None:
    chart = LiveChart()  # a widget, as in a notebook
    chart(T0, HOST)
    chart(T0 + 65, {**HOST, "cpu": 42.0, "proc.memory.rssMB": 652.4})
    chart.close()
    text = chart.view.header.value
    assert "1:05" in text
    assert "CPU (process) <b>42%</b>" in text and "RSS <b>652 MB</b>" in text
    assert "GPU 0 utilization <b>90%</b>" in text and "GPU 0 memory <b>27.9 GiB</b>" in text
    assert "available" not in text  # system quantities stay in their panels


def test_process_and_system_quantities_never_share_an_axis() -> None:
    chart = live([(T0, HOST)])
    panel_of = {t.meta: t.yaxis for t in chart.data}
    assert panel_of["proc.memory.rssMB"] != panel_of["proc.memory.availableMB"]
    assert panel_of["proc.cpu.threads"] != panel_of["cpu"]
    for key in KEYS:
        concrete = key.key.replace("{i}", "0").replace("{path}", "/")
        if "{" in concrete:
            continue
        process = concrete.startswith(("proc.", "gpu.process.")) or concrete == "cpu"
        panel = describe(concrete).panel
        for other in KEYS:
            o = other.key.replace("{i}", "0").replace("{path}", "/")
            if "{" in o or describe(o).panel != panel:
                continue
            o_process = o.startswith(("proc.", "gpu.process.")) or o == "cpu"
            assert process == o_process, (concrete, o, panel)


def test_band_labels_never_overlap_and_carry_the_execution_count() -> None:
    cells = [
        {
            "start_t": T0 + i * 0.7,
            "end_t": T0 + i * 0.7 + 0.5,
            "execution_count": i + 3,
            "first_line": f"result_{i} = compute_something_long(argument={i})",
        }
        for i in range(12)
    ]
    shapes, labels, rows = band_shapes(cells, T0, T0 + 10, width_px=340)
    assert len(shapes) == 12 and 1 <= rows <= 3
    extents: dict[float, list[tuple[float, float]]] = {}
    for label in labels:
        count = int(re.match(r"\[(\d+)\]", label["text"]).group(1))
        cell = cells[count - 3]
        assert label["x"] == (cell["start_t"] - T0) * 1000
        assert cell["first_line"] in label["hovertext"]
        x = label["x"] / 1000 / 10 * 340
        extents.setdefault(label["yshift"], []).append((x, x + len(label["text"]) * CHAR_PX))
    for row in extents.values():
        row.sort()
        for (_, end), (start, _) in zip(row, row[1:], strict=False):
            assert end <= start, row
    # Long lines are cut with an ellipsis, never through the number.
    assert any(label["text"].endswith("…") for label in labels)


def test_single_points_are_markers_and_highlight_band_marks_one_cell() -> None:
    chart = live([(T0, {"cpu": 5.0})])
    chart.add_marker({"start_t": T0, "end_t": T0 + 1, "execution_count": 7, "first_line": "x"})
    chart.add_marker({"start_t": T0 + 2, "end_t": T0 + 3, "execution_count": 8, "first_line": "y"})
    chart.draw()
    (trace,) = chart.data
    assert "markers" in trace.mode
    chart.view.highlight_band(T0 + 2)
    fills = [s.fillcolor for s in chart.view.figure.layout.shapes]
    assert fills[1] == HIGHLIGHT_BAND and fills[0] != HIGHLIGHT_BAND
    chart.view.highlight_band(None)
    assert HIGHLIGHT_BAND not in [s.fillcolor for s in chart.view.figure.layout.shapes]


def test_compared_runs_start_at_zero_one_colour_each_and_named(backend) -> None:
    me = identity.process_actor(backend)
    project = projects.ensure_project(backend, me, "cmp")
    ids = []
    for name, start in (("light", 1000.0), ("heavy", 5000.0)):
        run_id = runs.create_run(backend, me, project["entity"], "cmp", name=name)["id"]
        batch = [
            {"t": start + i, "values": {"cpu": 10.0 * i, "proc.memory.rssMB": 100.0 + i}}
            for i in range(4)
        ]
        ingest.write_samples(backend, me, run_id, batch)
        ids.append(run_id)
    compared = chart(ids, backend=backend)
    traces = compared.data
    assert len(traces) == 4
    for trace in traces:
        assert trace.x[0] == 0.0
    by_run: dict[str, set[str]] = {}
    for trace in traces:
        run_name = trace.name.split(" · ")[0]
        by_run.setdefault(run_name, set()).add(trace.line.color)
    assert set(by_run) == {"light", "heavy"}
    assert all(len(c) == 1 for c in by_run.values())
    assert by_run["light"] != by_run["heavy"]


def test_the_magics_chart_relays_highlight_band_to_the_live_chart() -> None:
    """`%labdeck start`'s chart (a relay until the live chart is shown) takes
    `highlight_band` as the ledger table calls it on a row click."""
    from labdeck.kernel.charting import PendingChart

    relay = PendingChart()
    relay.sample(T0, {"cpu": 5.0})
    relay.marker({"start_t": T0, "end_t": T0 + 1, "execution_count": 2, "first_line": "x"})
    relay.highlight_band(T0)  # before the chart exists: nothing to mark, no error
    chart = LiveChart(interactive=False)
    relay.connect(chart)
    relay.highlight_band(T0)
    relay.stop()
    assert chart.view.highlighted == T0
    assert [s.fillcolor for s in chart.view.figure.layout.shapes] == [HIGHLIGHT_BAND]


def test_the_grid_takes_as_many_columns_as_the_browsers_width_holds() -> None:
    """The figure's views report their laid-out width with each edit they
    answer (Plotly's `_js2py_widget_layoutDelta`, set here as the browser's
    message sets it): wide, the panels go four to a row; narrow, one; the
    widest view of an edit counts, and Plotly's width for a view not laid
    out (700) does not; the traces, their data and the widget the notebook
    shows follow the new figure."""
    chart = LiveChart(interactive=True)
    for i in range(4):
        chart(T0 + i, {**HOST, "cpu": float(i)})
    chart.close()
    view = chart.view
    assert len(view.panels) >= 4

    def x_starts() -> set[float]:
        layout = view.figure.layout
        return {round(layout[f"xaxis{p.suffix}"].domain[0], 3) for p in view.panels.values()}

    def report(width: float, edit: int) -> None:
        view.figure._js2py_widget_layoutDelta = {
            "layout_delta": {"width": width},
            "layout_edit_id": edit,
        }

    assert len(x_starts()) == 2  # no width reported yet: two columns
    before = [list(trace.y) for trace in view.figure.data]
    first = view.figure
    report(1800, 1)
    assert view.figure is not first and view.width_px == 1800
    assert len(x_starts()) == 4
    assert [list(trace.y) for trace in view.figure.data] == before
    assert view.widget.children[-1] is view.figure
    wide = view.figure
    report(1700, 1)  # another view of the same edit, or the next edit: still four columns
    report(600, 1)  # a narrower view answering the same edit: the widest counts
    assert view.figure is wide
    report(700, 2)  # a view not laid out yet: not a width
    assert view.figure is wide
    report(600, 3)
    assert x_starts() == {0.0}
