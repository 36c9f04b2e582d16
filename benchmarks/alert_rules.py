"""What threshold rules (F-SM-11) add to a metrics write: per-batch cost of
`ingest.write_samples` with N rules against the same write with none, in the
same run of the same process, on the same database.

Measured and printed, not asserted.

    python benchmarks/alert_rules.py [--rules 10,100] [--rounds 30] [--per-round 5]
        [--samples 10] [--keys 30] [--database-url postgresql+psycopg://…/ldbench]

A fresh database (a SQLite file in a temporary directory, or a PostgreSQL database
created here and dropped afterwards) gets one user, a project and ONE run; every
batch goes into that run. The batches are what a kernel flushes: --samples samples
of --keys keys (cpu, cpu.{i}.cpu_percent, gpu.{i}.temp, proc.memory.rssMB, …),
1 s apart, every point new. Rules are the user's own, made through the service:
half match keys of the batch by pattern (`gpu.*.temp > 1000`: their state is read
and written every batch, and they never breach, so no alert is raised and the
cost measured is evaluation alone), half by exact key (`cpu.3.cpu_percent > 1000`).

The phases alternate in rounds (none, N1 rules, N2 rules, none, …) so that any
drift of the machine (a loaded 2-core box) hits them alike; rules are switched
on and off between rounds, outside the clock. Printed: the median and p90 of
the per-batch wall time of each phase, and each ratio to "none" (same run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_latency import database  # noqa: E402

from labdeck.backend.config import Settings  # noqa: E402
from labdeck.backend.context import Backend  # noqa: E402
from labdeck.backend.db import Database  # noqa: E402
from labdeck.backend.models import AlertRule  # noqa: E402
from labdeck.backend.services import alert_rules, identity, ingest, projects, runs  # noqa: E402


def keys(count: int) -> list[str]:
    base = ["cpu", "proc.memory.rssMB", "proc.memory.percent", "proc.cpu.threads"]
    base += [f"gpu.{i}.{m}" for i in range(2) for m in ("temp", "gpu", "memoryAllocatedBytes")]
    base += [f"cpu.{i}.cpu_percent" for i in range(count)]
    return base[:count]


def batch(start: float, samples: int, names: list[str]) -> list[dict[str, Any]]:
    return [
        {"t": start + i, "values": {k: float((i * 7 + j) % 100) for j, k in enumerate(names)}}
        for i in range(samples)
    ]


def rule_bodies(count: int) -> list[dict[str, Any]]:
    bodies = []
    for n in range(count):
        pattern = "gpu.*.temp" if n % 2 == 0 else f"cpu.{n % 8}.cpu_percent"
        bodies.append({"key_pattern": pattern, "comparison": ">", "value": 1000 + n})
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", default="10,100", help="rule counts to compare with none")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=5, help="batches per phase per round")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.rules.split(",")]
    names = keys(args.keys)
    with database(args.database_url, args.keep) as (url, workdir):
        settings = Settings(database_url=url, storage_url=(workdir / "storage").as_uri())
        backend = Backend(Database(url), settings)
        backend.db.upgrade()
        me = identity.create_user(backend, "bench", email="bench@example.org")
        projects.create_project(backend, me, "bench", "rules")
        run_id = runs.create_run(backend, me, "bench", "rules")["id"]
        made = [alert_rules.create_my_rule(backend, me, b) for b in rule_bodies(max(counts))]
        # Phase N switches on the first N rules.
        ids = {count: [r["id"] for r in made[:count]] for count in counts}

        def switch(on: list[int]) -> None:
            with backend.db.transaction() as session:
                session.execute(update(AlertRule).values(enabled=AlertRule.id.in_(on or [-1])))

        phases = [0, *counts]
        times: dict[int, list[float]] = {p: [] for p in phases}
        t = 1_000_000.0
        for _ in range(2):  # warm up: series exist, states exist, caches are hot
            for phase in phases:
                switch(ids.get(phase, []))
                ingest.write_samples(backend, me, run_id, batch(t, args.samples, names))
                t += args.samples
        for _ in range(args.rounds):
            for phase in phases:
                switch(ids.get(phase, []))
                for _ in range(args.per_round):
                    data = batch(t, args.samples, names)
                    t += args.samples
                    began = time.perf_counter()
                    ingest.write_samples(backend, me, run_id, data)
                    times[phase].append(time.perf_counter() - began)
        dialect = backend.db.engine.dialect.name
        backend.db.dispose()
    points = args.samples * args.keys
    print(
        f"{dialect}: per-batch ingest.write_samples, {args.samples} samples × {args.keys} keys "
        f"({points} points), one run, {args.rounds} rounds × {args.per_round} batches a phase"
    )
    base = statistics.median(times[0])
    for phase in phases:
        ms = sorted(x * 1000 for x in times[phase])
        median = statistics.median(ms)
        p90 = ms[int(len(ms) * 0.9) - 1]
        label = "no rules" if phase == 0 else f"{phase} rules"
        print(
            f"  {label:>10}: median {median:7.2f} ms  p90 {p90:7.2f} ms  "
            f"ratio to none {median / (base * 1000):5.2f}"
        )


if __name__ == "__main__":
    main()
