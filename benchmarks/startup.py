"""How fast labdeck starts in a notebook kernel (issue 13, item 5), before
and after, measured in the same run.

    python benchmarks/startup.py [--base PATH] [--rounds 3] [--pause 0]

For each tree (this one, and with `--base` another checkout, e.g. a worktree
of main: `git worktree add /work/wt/base-9b main`), ROUNDS times, in turn:
start a real IPython kernel (jupyter_client) whose `PYTHONPATH` puts that
tree's sources first, on a copy of one migrated SQLite database (the
embedded mode, a user's database that exists already); warm it (a first
cell), then time inside the kernel, with `time.perf_counter()`:

- `%load_ext labdeck`;
- `%labdeck start --interval 0.5` until it returns (the live chart shown);
  PAUSE seconds after the load (default 0: the next cell at once, the worst
  case; a person takes longer to type `%labdeck start`);
- from that return to the first point drawn on the live chart (its first
  draw) and to the first sample taken (the sampler's first delivery), and
  from the start call to the first point drawn (what a person waits for);
- `labdeck.monitor()` construction (not started), a second monitor;
- `labdeck.runs("uncategorized")`, its second call.

Medians over the rounds, and new/base ratios. Targets: start <= 300 ms, the
first point <= 1 s after, load_ext <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = ("backend", "kernel", "widgets", "extension")

MEASURE = r"""
import json, time
ip = get_ipython()
out = {}
t0 = time.perf_counter()
ip.run_line_magic("load_ext", "labdeck")
out["load_ext"] = time.perf_counter() - t0
time.sleep(PAUSE)
t0 = time.perf_counter()
ip.run_line_magic("labdeck", "start --interval 0.5")
t1 = time.perf_counter()
out["start"] = t1 - t0
magics = ip.magics_manager.registry["LabdeckMagics"]
monitor = magics.monitor
deadline = t1 + 30
drawn = taken = None
while time.perf_counter() < deadline and (drawn is None or taken is None):
    now = time.perf_counter()
    if taken is None and monitor.status().get("samples_taken", 0) >= 1:
        taken = now - t1
    # The live chart is a sink (main), or behind one that holds samples for it.
    charts = [getattr(getattr(s, "__self__", None), "_chart", None) or s
              for s in monitor._extra_sinks]
    if drawn is None and any(getattr(c, "updates", 0) > 0 for c in charts):
        drawn = now - t1
    time.sleep(0.005)
out["first_point_drawn"] = drawn
# What a person waits from running `%labdeck start` until the chart shows a point.
out["start_to_first_point_drawn"] = out["start"] + drawn if drawn is not None else None
out["first_sample_taken"] = taken
ip.run_line_magic("labdeck", "stop")
import labdeck
t0 = time.perf_counter()
m = labdeck.monitor(project="bench")
out["monitor_construct"] = time.perf_counter() - t0
t0 = time.perf_counter()
m2 = labdeck.monitor(project="bench")
out["monitor_construct_2nd"] = time.perf_counter() - t0
t0 = time.perf_counter()
labdeck.runs("uncategorized")
out["runs_1st"] = time.perf_counter() - t0
t0 = time.perf_counter()
labdeck.runs("uncategorized")
out["runs_2nd"] = time.perf_counter() - t0
print("RESULT " + json.dumps(out))
"""


def run_kernel(tree: Path, database: Path, pause: float) -> dict[str, Any]:
    from jupyter_client.manager import KernelManager

    env = dict(os.environ)
    env = {k: v for k, v in env.items() if not k.startswith(("LABDECK_", "JUPYTERHUB_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(tree / root) for root in SOURCE_ROOTS)
    env["LABDECK_DATABASE_URL"] = f"sqlite:///{database}"
    env["LABDECK_STORAGE_URL"] = (database.parent / "storage").as_uri()
    manager = KernelManager(kernel_name="python3")
    manager.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    manager.start_kernel(env=env, cwd=str(database.parent))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        printed: list[str] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                printed.append("\n".join(msg["content"]["traceback"]))

        # Warm: the kernel has run a cell (IPython's own first-cell costs).
        client.execute_interactive("import labdeck, sys; print(labdeck.__file__)", timeout=120)
        code = MEASURE.replace("PAUSE", repr(pause))
        reply = client.execute_interactive(code, timeout=300, output_hook=keep)
        text = "".join(printed)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(text)
        line = next(x for x in text.splitlines() if x.startswith("RESULT "))
        return dict(json.loads(line.removeprefix("RESULT ")))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def migrated_database(folder: Path, tree: Path) -> Path:
    """A database migrated by `tree`'s own code (an older tree does not know
    a newer tree's migrations), in a process of its own."""
    path = folder / f"template-{abs(hash(tree))}.db"
    code = (
        "import sys; from labdeck.backend.db import Database; "
        "d = Database(sys.argv[1]); d.upgrade(); d.dispose()"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tree / r) for r in SOURCE_ROOTS)}
    subprocess.run([sys.executable, "-c", code, f"sqlite:///{path}"], env=env, check=True)
    return path


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Results of older runs lack the derived figure."""
    if "start_to_first_point_drawn" not in result and result.get("first_point_drawn"):
        result["start_to_first_point_drawn"] = result["start"] + result["first_point_drawn"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="another checkout to compare with (main)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    trees = {"new": ROOT}
    if args.base:
        trees["base"] = args.base.resolve()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        templates = {name: migrated_database(Path(tmp), tree) for name, tree in trees.items()}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                folder = Path(tmp) / f"{name}-{round_}"
                folder.mkdir()
                shutil.copy(templates[name], folder / "labdeck.db")
                results[name].append(summarize(run_kernel(tree, folder / "labdeck.db", args.pause)))
                print(name, round_, json.dumps(results[name][-1]), flush=True)
    print(f"\nload average {os.getloadavg()}; pause {args.pause} s; {args.rounds} rounds")
    keys = list(results["new"][0])
    print(f"{'median seconds':26}" + "".join(f"{n:>10}" for n in trees) + "  new/base")
    for key in keys:
        medians = {}
        for name in trees:
            values = [r[key] for r in results[name] if r.get(key) is not None]
            medians[name] = statistics.median(values) if values else float("nan")
        ratio = f"{medians['new'] / medians['base']:>9.2f}" if "base" in medians else ""
        print(f"{key:26}" + "".join(f"{medians[n]:>10.3f}" for n in trees) + ratio)


if __name__ == "__main__":
    main()
