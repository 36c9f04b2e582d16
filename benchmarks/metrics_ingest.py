"""Metric ingest rate: points/s accepted by POST /runs/{id}/metrics, and by the service alone.

Measured and printed, not asserted (target on SQLite, over HTTP: >= 100,000 points/s).

    python benchmarks/metrics_ingest.py [--batches 20] [--samples 1000] [--keys 30]
    python benchmarks/metrics_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ldbench

A fresh database (a SQLite file in a temporary directory, or a PostgreSQL database that
this script creates and drops) gets one user, its API key, a personal project and runs,
all made through the services. The batches are built once: --samples samples of --keys
metric keys each (names as a monitor sends them: cpu, cpu.0.cpu_percent, gpu.0.temp,
proc.memory.rssMB, ...; mostly floats, a few integers), times 1 s apart and increasing
across batches, so every point is new.

1. HTTP: a real `python -m jupyter server` with labdeck in a subprocess; one keep-alive
   loopback connection posts the batches one after another, each body JSON-encoded
   before the clock starts, `Authorization: Bearer <key>`. Points/s = points accepted /
   the sum of the request times (send to answer read): HTTP, the handler's JSON parse,
   authentication, validation and the database, end to end. Two warm-up batches go to
   a separate run first. Also printed: points per CPU second of the server process
   (psutil), which other load on the machine disturbs much less than wall time.
2. Service: the same batches, as Python objects, to `ingest.write_samples` called
   directly in this process (a fresh run), without HTTP and without JSON; and again with
   `json.loads` of the encoded body in front, which is what the handler adds to it.
   The prepared batches are moved out of the garbage collector's sight (`gc.freeze()`)
   so that this process's big heap does not slow its own writes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_latency import call, database, running_server  # noqa: E402

from labdeck.backend.config import Settings  # noqa: E402
from labdeck.backend.context import Actor, Backend  # noqa: E402
from labdeck.backend.db import Database  # noqa: E402
from labdeck.backend.services import apikeys, identity, ingest, projects, runs  # noqa: E402

TARGET_POINTS_PER_S = 100_000
USERNAME = "bench"
PROJECT = "ingest"

# What the kernel monitor sends: host, process, disk, network, then per-device keys.
BASE_KEYS = [
    "cpu",
    "memory",
    "proc.cpu.threads",
    "proc.memory.rssMB",
    "proc.memory.percent",
    "proc.memory.availableMB",
    "disk.in",
    "disk.out",
    "disk./.usagePercent",
    "disk./.usageGB",
    "network.sent",
    "network.recv",
]
PER_CPU = "cpu.{}.cpu_percent"
PER_GPU = ("gpu.{}.gpu", "gpu.{}.memory", "gpu.{}.temp", "gpu.{}.powerWatts")
INTEGER_KEYS = {"proc.cpu.threads", "network.sent", "network.recv"}


def metric_keys(count: int) -> list[str]:
    """`count` realistic key names: the host keys, then per-CPU and per-GPU ones in turn."""
    keys = list(BASE_KEYS[:count])
    cpu = gpu = 0
    while len(keys) < count:
        keys.append(PER_CPU.format(cpu))
        cpu += 1
        for pattern in PER_GPU:
            if len(keys) < count and cpu % 2 == 0:
                keys.append(pattern.format(gpu))
        if cpu % 2 == 0:
            gpu += 1
    return keys


def make_batches(
    batches: int, samples: int, keys: list[str], t0: float, seed: int
) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    out: list[list[dict[str, Any]]] = []
    t = t0
    for _ in range(batches):
        batch: list[dict[str, Any]] = []
        for _ in range(samples):
            values: dict[str, float | int] = {}
            for key in keys:
                if key in INTEGER_KEYS:
                    values[key] = rng.randrange(0, 10**9)
                elif key.endswith(".temp"):
                    values[key] = rng.randrange(30, 90)
                else:
                    values[key] = round(rng.uniform(0, 100), 3)
            batch.append({"t": t, "values": values})
            t += 1.0
        out.append(batch)
    return out


@dataclass
class Rate:
    """Points over wall time, and over the CPU time the process doing the work spent."""

    name: str
    points: int
    seconds: list[float]
    cpu_seconds: float

    @property
    def per_s(self) -> float:
        return self.points / sum(self.seconds)

    def row(self, baseline: float) -> str:
        ms = [s * 1000 for s in self.seconds]
        return (
            f"  {self.name:40s} {self.per_s:10,.0f} {self.points / self.cpu_seconds:12,.0f}"
            f" {statistics.median(ms):9.1f} {max(ms):9.1f} {sum(self.seconds):7.2f}"
            f"  {self.per_s / baseline:6.2f}"
        )


def print_rates(rates: list[Rate], baseline: float) -> None:
    print(
        f"  {'path':40s} {'points/s':>10s} {'points/CPU-s':>12s} {'p50 ms/b':>9s}"
        f" {'max ms/b':>9s} {'total s':>7s}  {'x HTTP':>6s}"
    )
    for rate in rates:
        print(rate.row(baseline))


@dataclass
class World:
    backend: Backend
    actor: Actor
    key: str

    def new_run(self, name: str) -> str:
        run = runs.create_run(self.backend, self.actor, USERNAME, PROJECT, name=name)
        run_id: str = run["id"]
        return run_id


def make_world(url: str, storage: Path) -> World:
    backend = Backend(Database(url), Settings(storage_url=storage.as_uri()))
    backend.db.upgrade()
    actor = identity.create_user(backend, USERNAME, email="bench@example.com")
    key = apikeys.create_key(backend, actor, "ingest benchmark")["secret"]
    projects.create_project(backend, actor, USERNAME, PROJECT, "private")
    return World(backend, actor, key)


def cpu_time(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (every thread), this one by default."""
    if pid is None:
        return time.process_time()
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def timed(
    name: str, items: list[Any], fn: Callable[[Any], int], cpu_pid: int | None = None
) -> Rate:
    """`fn` over each item; its CPU time is the process `cpu_pid`'s (this one by default)."""
    points = 0
    seconds: list[float] = []
    cpu_start = cpu_time(cpu_pid)
    for item in items:
        begin = time.perf_counter()
        points += fn(item)
        seconds.append(time.perf_counter() - begin)
    return Rate(name, points, seconds, cpu_time(cpu_pid) - cpu_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL of a database to create and drop")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--samples", type=int, default=1_000, help="samples per batch")
    parser.add_argument("--keys", type=int, default=30, help="metric keys per sample")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and temp dir")
    args = parser.parse_args()

    keys = metric_keys(args.keys)
    per_batch = args.samples * args.keys
    print(
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{args.batches} batches x {args.samples} samples x {args.keys} keys = "
        f"{per_batch:,} points a batch, {per_batch * args.batches:,} in all; "
        f"keys: {', '.join(keys[:6])}, ..., {keys[-1]}"
    )
    t0 = float(int(time.time()) - 10 * args.samples * (args.batches + 2))
    warmup = make_batches(2, args.samples, keys, t0 - 2 * args.samples, args.seed + 1)
    batches = make_batches(args.batches, args.samples, keys, t0, args.seed)
    begin = time.perf_counter()
    bodies = [json.dumps({"samples": batch}).encode() for batch in batches]
    encode_s = time.perf_counter() - begin
    mb = sum(len(b) for b in bodies) / len(bodies) / 1e6
    # The batches are ~1M long-lived objects; frozen, the collector stops walking them at
    # every collection the in-process writes trigger (the server holds no such heap).
    gc.collect()
    gc.freeze()
    print(
        f"bodies: {mb:.2f} MB a batch, client-side json.dumps {encode_s / len(bodies) * 1000:.0f}"
        " ms a batch (not timed below)"
    )

    with database(args.database_url, args.keep) as (url, workdir):
        print(f"database: {make_url(url).render_as_string(hide_password=True)}")
        world = make_world(url, workdir / "storage")
        http_run, warm_run = world.new_run("http"), world.new_run("warmup")
        service_run, parsed_run = world.new_run("service"), world.new_run("service-json")

        with running_server(url, workdir) as server:
            print(f"jupyter server on 127.0.0.1:{server.port} (log: {server.log_path})")
            conn = server.connection()

            def post(run_id: str) -> Callable[[bytes], int]:
                def send(body: bytes) -> int:
                    status, data = call(
                        conn, "POST", f"/runs/{run_id}/metrics", f"Bearer {world.key}", body
                    )
                    if status != 200:
                        raise SystemExit(f"POST metrics answered {status}: {data[:300]!r}")
                    written: int = json.loads(data)["written"]
                    return written

                return send

            warm_bodies = [json.dumps({"samples": b}).encode() for b in warmup]
            assert server.process is not None
            timed("warm-up", warm_bodies, post(warm_run))
            http = timed("HTTP POST /runs/{id}/metrics", bodies, post(http_run), server.process.pid)
            conn.close()

        def direct(run_id: str) -> Callable[[list[dict[str, Any]]], int]:
            def write(batch: list[dict[str, Any]]) -> int:
                return ingest.write_samples(world.backend, world.actor, run_id, batch)["written"]

            return write

        def parse_then_write(body: bytes) -> int:
            samples = json.loads(body)["samples"]
            return direct(parsed_run)(samples)

        timed("warm-up", warmup, direct(world.new_run("service-warmup")))
        service = timed("service write_samples (in-process)", batches, direct(service_run))
        parsed = timed("json.loads + write_samples (in-process)", bodies, parse_then_write)

        def parse(body: bytes) -> int:
            json.loads(body)
            return per_batch

        parse_only = timed("json.loads of the body alone", bodies, parse)
        for rate in (http, service, parsed):
            if rate.points != per_batch * args.batches:
                raise SystemExit(f"{rate.name}: {rate.points} points written, expected more")
        world.backend.db.dispose()

    print(
        f"points/s over wall time; points/CPU-s over the CPU time of the process doing the work "
        f"(the server for HTTP; less sensitive to other load); ms/b: ms a batch of {per_batch:,}:"
    )
    print_rates([http, service, parsed, parse_only], http.per_s)
    verdict = "met" if http.per_s >= TARGET_POINTS_PER_S else "MISSED"
    print(f"target >= {TARGET_POINTS_PER_S:,} points/s over HTTP on this database: {verdict}")


if __name__ == "__main__":
    main()
