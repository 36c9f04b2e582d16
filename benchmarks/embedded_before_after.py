"""Embedded mode (SQLite, no service) before and after a change, in one run:
REST latency (`api_latency.py`, including GET /me with the Jupyter token)
and metric ingest (`metrics_ingest.py`), this tree against another checkout.

    python benchmarks/embedded_before_after.py --base /work/wt/pre9 [--rounds 3]

Both trees are measured with THIS tree's benchmark scripts and the same
Python environment; only `PYTHONPATH` differs (that tree's `backend`,
`kernel`, `widgets`, `extension` first), so the Jupyter server the scripts
start, and the in-process service calls, run that tree's code. Rounds
alternate (base, new, base, new, ...) so that a change in the machine's load
falls on both. Printed: each round's figures, then per figure the median
over the rounds of each tree and the new/base ratio (latency: < 1 is faster;
throughput: > 1 is faster).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = ("backend", "kernel", "widgets", "extension")
LATENCY_ROW = re.compile(
    r"^\s+(?P<name>\S.*?)\s+(?P<n>\d+)\s+(?P<p50>[\d.]+)\s+(?P<p99>[\d.]+)"
    r"\s+(?P<mean>[\d.]+)\s+(?P<max>[\d.]+)\s+(yes|NO)$"
)
INGEST_ROW = re.compile(
    r"^\s+(?P<name>\S.*?)\s+(?P<rate>[\d,]+)\s+(?P<cpu>[\d,]+)\s+(?P<p50>[\d.]+)"
    r"\s+(?P<max>[\d.]+)\s+(?P<total>[\d.]+)\s+(?P<x>[\d.]+)$"
)


def run(tree: Path, script: str, args: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABDECK_", "JUPYTERHUB_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(tree / root) for root in SOURCE_ROOTS)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=tree,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} on {tree} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def figures(latency_out: str, ingest_out: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in latency_out.splitlines():
        if m := LATENCY_ROW.match(line):
            found[f"{m['name']} p50 ms"] = float(m["p50"])
            found[f"{m['name']} p99 ms"] = float(m["p99"])
    for line in ingest_out.splitlines():
        if (m := INGEST_ROW.match(line)) and not m["name"].startswith("json.loads of"):
            found[f"{m['name']} points/s"] = float(m["rate"].replace(",", ""))
            found[f"{m['name']} points/CPU-s"] = float(m["cpu"].replace(",", ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--latency-args",
        default="--users 2000 --teams 200 --memberships 20000 --big-team 500 "
        "--requests 300 --warmup 30",
    )
    parser.add_argument("--ingest-args", default="--batches 5 --samples 500 --keys 30")
    args = parser.parse_args()
    trees = {"base": args.base.resolve(), "new": ROOT}
    print(f"base = {trees['base']}  new = {trees['new']}  rounds = {args.rounds}")
    print(f"api_latency.py {args.latency_args}\nmetrics_ingest.py {args.ingest_args}")
    seen: dict[str, dict[str, list[float]]] = {"base": {}, "new": {}}
    for n in range(args.rounds):
        for label, tree in trees.items():
            lat = run(tree, "api_latency.py", args.latency_args.split())
            ing = run(tree, "metrics_ingest.py", args.ingest_args.split())
            got = figures(lat, ing)
            if not got:
                raise SystemExit(f"no figures parsed:\n{lat}\n{ing}")
            print(f"round {n + 1} {label}: " + "; ".join(f"{k} {v:,.2f}" for k, v in got.items()))
            for key, value in got.items():
                seen[label].setdefault(key, []).append(value)
            sys.stdout.flush()
    print(f"\nmedians over {args.rounds} rounds")
    print(f"  {'figure':62s} {'base':>12s} {'new':>12s} {'new/base':>9s}")
    for key in seen["new"]:
        if key not in seen["base"]:
            print(f"  {key:62s} {'-':>12s} {statistics.median(seen['new'][key]):12,.2f}")
            continue
        base, new = statistics.median(seen["base"][key]), statistics.median(seen["new"][key])
        print(f"  {key:62s} {base:12,.2f} {new:12,.2f} {new / base:9.2f}")


if __name__ == "__main__":
    main()
