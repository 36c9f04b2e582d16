"""Live chart cost per update, and the time to draw a long stored run.

Measured, not asserted (issue: live charts).

    python benchmarks/chart.py [--hours 1] [--days 7] [--keys 30]

1. Live chart, in a real kernel (jupyter_client; the widget's messages are
   serialized and sent on iopub as in a notebook): 8 panels, 30 traces, one
   sample per second of run time for HOURS in compressed time, one chart
   update per sample. Kernel CPU per update (`time.process_time()`) for the
   first and last simulated minutes and the whole run: it must stay flat.
2. Stored run: DAYS at 1 Hz with KEYS keys (7 days x 30 keys = 18.1M points)
   recorded through the metrics service into a SQLite file, then drawn with
   `labdeck.chart(run_id)` at 2,000 points per trace: wall time of the read
   alone and of the whole chart.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import textwrap
import time

from jupyter_client.manager import start_new_kernel

KEYS = (
    ["cpu"]
    + [f"cpu.{i}.cpu_percent" for i in range(8)]
    + ["memory", "proc.memory.percent", "proc.memory.rssMB", "proc.memory.availableMB"]
    + ["disk./.usagePercent", "disk./data.usagePercent", "network.sent", "network.recv"]
    + [
        f"gpu.{g}.{m}"
        for g in (0, 1)
        for m in ("gpu", "memory", "memoryAllocated", "powerPercent", "encoderUtilization")
    ]
    + ["gpu.0.smClock", "gpu.0.memoryClock", "gpu.0.graphicsClock"]
)

LIVE = textwrap.dedent(
    """
    import json, math, time
    from labdeck.widgets.live import LiveChart
    keys = json.loads(KEYS)
    chart = LiveChart()
    chart._stop.set(); chart._wake.set(); chart._thread.join()
    t0 = time.time()
    costs = []
    for i in range(SECONDS):
        values = {k: 50 + 40 * math.sin(i / (60 + j)) for j, k in enumerate(keys)}
        chart(t0 + i, values)
        start = time.process_time()
        chart.draw()
        costs.append(time.process_time() - start)
    panels = len(chart.view.panels)
    traces = len(chart.data)
    points = max(len(t.x) for t in chart.data)
    print(json.dumps({"costs": costs, "panels": panels, "traces": traces, "points": points}))
    """
)


def live_chart(hours: float) -> None:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        code = LIVE.replace("KEYS", repr(json.dumps(KEYS))).replace(
            "SECONDS", str(int(hours * 3600))
        )
        lines: list[str] = []

        def keep(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                lines.append(msg["content"]["text"])

        reply = kc.execute_interactive(code, timeout=3600, output_hook=keep)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    result = json.loads("".join(lines).strip().splitlines()[-1])
    costs = [c * 1000 for c in result["costs"]]
    first, last = costs[60:120], costs[-60:]
    print(
        f"live chart: {result['panels']} panels, {result['traces']} traces, "
        f"{len(costs)} updates (1 h at 1 Hz compressed), <= {result['points']} points a trace"
    )
    print(f"  kernel CPU per update, minute 2:   {sum(first) / len(first):6.2f} ms")
    print(f"  kernel CPU per update, last minute:{sum(last) / len(last):6.2f} ms")
    print(f"  mean over the run:                 {sum(costs) / len(costs):6.2f} ms  (target <= 5)")


def stored_run(days: float, keys: int, directory: str) -> None:
    os.environ["JUPYTERHUB_USER"] = "bench"
    from labdeck.backend.context import Backend
    from labdeck.backend.services import identity, ingest, metrics, projects, runs
    from labdeck.widgets import history

    backend = Backend.open(f"sqlite:///{directory}/stored.db")
    actor = identity.process_actor(backend)
    projects.create_project(backend, actor, "bench", "week")
    run_id = runs.create_run(backend, actor, "bench", "week")["id"]
    names = (KEYS * (keys // len(KEYS) + 1))[:keys]
    names = [n if i < len(KEYS) else f"{n}.{i}" for i, n in enumerate(names)]
    seconds = int(days * 86400)
    t0 = time.time()
    start = time.perf_counter()
    batch = 1000
    for lo in range(0, seconds, batch):
        samples = [
            {"t": t0 + s, "values": {k: float((s * (j + 1)) % 97) for j, k in enumerate(names)}}
            for s in range(lo, min(lo + batch, seconds))
        ]
        ingest.write_samples(backend, actor, run_id, samples)
    took = time.perf_counter() - start
    total = seconds * keys
    print(
        f"stored run: {total / 1e6:.1f}M points ({days:g} days at 1 Hz, {keys} keys) "
        f"recorded in {took:.0f} s ({total / took / 1000:.0f}k points/s)"
    )
    backend.db.engine.dispose()
    raw = sqlite3.connect(f"{directory}/stored.db")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    size = os.path.getsize(f"{directory}/stored.db") / 1e6
    print(f"  database file: {size:.0f} MB")
    for attempt in (1, 2, 3):
        start = time.perf_counter()
        data = metrics.read_series(backend, actor, run_id, max_points=2000)
        read = time.perf_counter() - start
        start = time.perf_counter()
        figure = history.chart(run_id, max_points=2000, backend=backend)
        whole = time.perf_counter() - start
        most = max(len(s["t"]) for s in data["series"].values())
        print(
            f"  draw #{attempt}: read {read * 1000:6.0f} ms, labdeck.chart() {whole * 1000:6.0f} ms"
            f" (target < 300), {len(figure.data)} traces, <= {most} points a trace"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-stored", action="store_true")
    args = parser.parse_args()
    if not args.skip_live:
        live_chart(args.hours)
    if not args.skip_stored:
        with tempfile.TemporaryDirectory() as directory:
            stored_run(args.days, args.keys, directory)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
