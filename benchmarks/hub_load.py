"""A team's labdeck service under load (issue 9, "Scale"): many kernels in
client mode recording at once, against one `labdeck serve` on PostgreSQL on
loopback. Measured, not asserted.

    python benchmarks/hub_load.py [--kernels 1000] [--seconds 300] [--keys 30]
        [--interval 1] [--flush 5] [--services 1] [--workers 1]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

1. A fresh PostgreSQL database (dropped at the end), migrated; KERNELS
   accounts, each with an API key of its own (`Bearer ldk_…`: every
   simulated kernel proves itself, none shares a credential), made through
   the services as `labdeck user create` would.
2. `labdeck serve --workers WORKERS` (the service the Hub runs: WORKERS
   processes on one port, docs/hub.md; or SERVICES such services, each on
   a free port, the kernels spread over them round robin as a load
   balancer in front of them would), the database URL in its environment
   only. API keys never reach the Hub, so no Hub is needed for the load
   itself (`JUPYTERHUB_API_URL` points nowhere).
3. KERNELS simulated kernels in this process (asyncio, tornado's HTTP client:
   jupyter_server's own dependency, no other): each creates a project and a
   run over REST, then every FLUSH seconds posts the KEYS × FLUSH/INTERVAL
   points it "sampled" since (`POST /runs/{id}/metrics`), exactly what a
   kernel's recorder sends. Kernels start spread over one flush interval.
   A failed post is counted as an error and re-sent with the next batch, as
   the recorder does (the server counts re-sent points as duplicates); a
   503/429 (the service pushing back, `arrivals`) is counted apart, not as
   an error: the batch is kept and sent with the next flush.
4. After SECONDS, every kernel sends what it holds and ends its run (a
   503/429 there is counted apart too, as pushed back in the final drain).

Reported: points/s written and offered (held = written keeps up with
offered), p50/p99/max latency of the metric writes, errors by kind, the
service's and PostgreSQL's CPU seconds per 1,000 points, database bytes per run-hour, and
points offered = points stored (counted in PostgreSQL), exactly. The load
generator shares the machine: its own CPU and the load average are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / p) for p in ("backend", "kernel", "widgets", "extension", "tests")]

from servers import free_port, hub_service_env, listens_on  # noqa: E402

from labdeck.backend.config import Settings  # noqa: E402
from labdeck.backend.context import Backend  # noqa: E402
from labdeck.backend.db import Database  # noqa: E402
from labdeck.backend.services import apikeys, identity  # noqa: E402

# The service pushing back (`arrivals`): the kernel keeps its batch.
PUSHED_BACK = (429, 503)
POSTGRES_NAMES = ("postgres", "postmaster")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    offered: int = 0
    written: int = 0
    duplicates: int = 0
    lost: int = 0
    pushed_back: int = 0
    drain_pushed_back: int = 0


def make_accounts(url: str, count: int) -> list[str]:
    backend = Backend(Database(url), Settings(database_url=url))
    backend.db.upgrade()
    keys = []
    for i in range(count):
        actor = identity.create_user(backend, f"k{i:04d}")
        keys.append(apikeys.create_key(backend, actor, "load")["secret"])
    backend.db.dispose()
    return keys


def start_service(url: str, port: int, log: Path, workers: int) -> subprocess.Popen[bytes]:
    # This checkout first, then whatever this process was given (packages
    # installed with --target on a machine lent for the benchmark).
    paths = [str(ROOT / p) for p in ("backend", "kernel", "extension")]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = hub_service_env(url, log.parent, port) | {"PYTHONPATH": os.pathsep.join(paths)}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "labdeck.cli", "serve", "--allow-root",
             "--workers", str(workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
        )  # fmt: skip


async def kernel(
    n: int, base: str, key: str, args: argparse.Namespace, stats: Stats, stop_at: float
) -> str:
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    http = AsyncHTTPClient()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def call(method: str, path: str, body: Any) -> Any:
        response = await http.fetch(
            base + path, method=method, headers=headers, body=json.dumps(body),
            request_timeout=120, connect_timeout=60,
        )  # fmt: skip
        return json.loads(response.body)

    user = f"k{n:04d}"
    await asyncio.sleep(random.uniform(0, args.flush))
    for attempt in range(20):
        try:
            await call("POST", f"/projects/{user}", {"name": "load"})
            run = await call("POST", f"/projects/{user}/load/runs", {"name": f"kernel-{n}"})
            break
        except Exception as exc:
            stats.errors[f"setup {type(exc).__name__}"] += 1
            if "409" in str(exc):
                run = await call("POST", f"/projects/{user}/load/runs", {"name": f"kernel-{n}"})
                break
            await asyncio.sleep(1 + attempt)
    run_id = run["id"]
    t = time.time()
    pending: list[dict[str, Any]] = []
    done = False
    while not done:
        await asyncio.sleep(args.flush)
        done = time.monotonic() >= stop_at
        # A kernel samples on its clock whether or not its posts are slow: every
        # INTERVAL up to now (a loop of PER_FLUSH samples per post would lag
        # behind the wall clock whenever the service is slow).
        while t + args.interval <= time.time():
            t += args.interval
            pending.append(
                {"t": t, "values": {f"key{k}": random.random() for k in range(args.keys)}}
            )
            stats.offered += args.keys
        started = time.perf_counter()
        try:
            answer = await call("POST", f"/runs/{run_id}/metrics", {"samples": pending})
            stats.latencies.append(time.perf_counter() - started)
            stats.written += answer["written"]
            stats.duplicates += answer["duplicates"]
            pending = []
        except HTTPClientError as exc:
            if exc.code in PUSHED_BACK:  # pushed back: the batch is kept and sent with the next
                stats.pushed_back += 1
                continue
            stats.errors[f"HTTP {exc.code}"] += 1
            if exc.code == 409:  # reaped (no heartbeat within the staleness): it takes no more
                stats.lost += sum(len(p["values"]) for p in pending)
                return str(run_id)
        except Exception as exc:
            stats.errors[type(exc).__name__] += 1
    for _ in range(60):  # what is still held goes out before the run ends
        if not pending:
            break
        try:
            answer = await call("POST", f"/runs/{run_id}/metrics", {"samples": pending})
            stats.written += answer["written"]
            pending = []
        except Exception as exc:
            if isinstance(exc, HTTPClientError) and exc.code in PUSHED_BACK:
                stats.drain_pushed_back += 1  # kept and sent again, as in the run
            else:
                stats.errors[f"final {type(exc).__name__}"] += 1
            await asyncio.sleep(1)
    try:
        await call("POST", f"/runs/{run_id}/end", {"state": "finished"})
    except Exception as exc:
        stats.errors[f"end {type(exc).__name__}"] += 1
    return str(run_id)


async def load(
    bases: list[str], keys: list[str], args: argparse.Namespace, stats: Stats
) -> list[str]:
    from tornado.httpclient import AsyncHTTPClient

    AsyncHTTPClient.configure(None, max_clients=len(keys) + 10)
    stop_at = time.monotonic() + args.seconds
    return list(
        await asyncio.gather(
            *(
                kernel(n, bases[n % len(bases)], key, args, stats, stop_at)
                for n, key in enumerate(keys)
            )
        )
    )


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine, now (the
    service's connections, the checkpointer, autovacuum), and of those that
    have ended: the postmaster reaps its backends, so their seconds are in
    its children's times (a connection closed during the run counts too)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] not in POSTGRES_NAMES:
            continue
        try:
            times = proc.cpu_times()
            total += times.user + times.system
            if psutil.Process(proc.info["ppid"]).name() not in POSTGRES_NAMES:
                total += times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def service_processes(
    proc: subprocess.Popen[bytes], workers: int, port: int
) -> list[psutil.Process]:
    """The service's workers, once every one of them listens on `port`."""
    first = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        every = [first, *first.children()]
        if sum(listens_on(p, port) for p in every) == workers:
            return every
        time.sleep(0.5)
    raise RuntimeError(f"{workers} workers did not all listen on port {port}")


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            urllib.request.urlopen(base + "/openapi.json", timeout=5).read()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise RuntimeError("the service did not answer: " + log.read_text()[-3000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--flush", type=float, default=5.0)
    parser.add_argument(
        "--services",
        type=int,
        default=1,
        help="labdeck serve processes on one database, kernels spread over them round robin "
        "(what a load balancer in front of them does)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="labdeck serve --workers: processes on one port"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LABDECK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    name = f"labdeck_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.monotonic()
        keys = make_accounts(url, args.kernels)
        print(f"{args.kernels} accounts and API keys in {time.monotonic() - t0:.0f} s", flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            size_before = conn.execute(
                text("SELECT pg_database_size(current_database())")
            ).scalar_one()
        with tempfile.TemporaryDirectory() as tmp:
            bases = []
            services: list[psutil.Process] = []
            for i in range(args.services):
                port = free_port()
                log = Path(tmp) / f"service-{i}.log"
                procs.append(start_service(url, port, log, args.workers))
                bases.append(f"http://127.0.0.1:{port}/services/labdeck/labdeck/api")
                wait_ready(bases[-1], procs[-1], log)
                services += service_processes(procs[-1], args.workers, port)
            cpu_before = sum(sum(p.cpu_times()[:2]) for p in services)
            database_before = postgres_cpu()
            me_before = time.process_time()
            stats = Stats()
            started = time.monotonic()
            run_ids = asyncio.run(load(bases, keys, args, stats))
            elapsed = time.monotonic() - started
            service_cpu = sum(sum(p.cpu_times()[:2]) for p in services) - cpu_before
            database_cpu = postgres_cpu() - database_before
            generator_cpu = time.process_time() - me_before
            loadavg = os.getloadavg()
        with engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT count(*) FROM metric_points p JOIN metric_series s "
                    "ON s.id = p.series_id WHERE s.run_id = ANY(:ids)"
                ),
                {"ids": run_ids},
            ).scalar()
            size_after = conn.execute(
                text("SELECT pg_database_size(current_database())")
            ).scalar_one()
            # Without autovacuum the fresh tables are never analyzed and each
            # write scans metric_series (docs/operations.md, "PostgreSQL").
            autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
            series_scans = conn.execute(
                text(
                    "SELECT seq_scan, seq_tup_read, last_autoanalyze FROM pg_stat_user_tables "
                    "WHERE relname = 'metric_series'"
                )
            ).one()
        engine.dispose()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=60)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    lat = sorted(stats.latencies)
    run_hours = args.kernels * elapsed / 3600
    print(json.dumps(vars(args)))
    print(f"elapsed {elapsed:.0f} s; load average at the end {loadavg}")
    print(
        f"offered {stats.offered / elapsed:,.0f} points/s; written {stats.written / elapsed:,.0f}"
    )
    if lat:
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(
            f"write latency: p50 {statistics.median(lat) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms over {len(lat)} writes"
        )
    print(f"errors: {sum(stats.errors.values())} {dict(stats.errors)}; "
          f"pushed back (503/429, batch kept and re-sent): {stats.pushed_back}, "
          f"and {stats.drain_pushed_back} in the final drain")  # fmt: skip
    print(f"service CPU: {service_cpu:.0f} s, {1000 * service_cpu / max(1, stats.written):.3f} s "
          f"per 1,000 points ({args.services} service(s) × {args.workers} worker(s)); "
          f"PostgreSQL CPU: {database_cpu:.0f} s, "
          f"{1000 * database_cpu / max(1, stats.written):.3f} s per 1,000 points; "
          f"load generator CPU {generator_cpu:.0f} s")  # fmt: skip
    print(f"database: {(size_after - size_before) / run_hours / 1e6:.2f} MB per run-hour")
    print(f"PostgreSQL: autovacuum {autovacuum}; metric_series: {series_scans.seq_scan} "
          f"sequential scans reading {series_scans.seq_tup_read:,} rows, last analyzed "
          f"{series_scans.last_autoanalyze or 'never'}")  # fmt: skip
    print(f"points offered {stats.offered}, stored {stored}, duplicates {stats.duplicates}, "
          f"lost to reaped runs {stats.lost}: "
          f"{'EQUAL' if stored == stats.offered else 'DIFFERENT'}")  # fmt: skip


if __name__ == "__main__":
    main()
