"""Latency of three REST calls against a real jupyter_server, on a database of realistic size.

Measured and printed, not asserted (target on SQLite: p99 < 20 ms each).

    python benchmarks/api_latency.py [--requests 1000] [--warmup 50]
    python benchmarks/api_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ldbench

1. Seeds a fresh database (a SQLite file in a temporary directory, or the PostgreSQL
   database named by --database-url, which this script creates and drops) after
   `Database(url).upgrade()`: 10,000 users with a primary email each (every tenth a
   second one), 10 organizations, 1,000 teams (lower-case names, type work), 100,000
   memberships (one admin a team, members otherwise; one big team of --big-team
   members spread over the user names, the others ~100 each) and the matching
   org_members rows, with SQLAlchemy Core executemany inserts. The API keys of the
   measured users are made through `services.apikeys.create_key`. PostgreSQL gets
   an ANALYZE (autovacuum would run one); SQLite none (labdeck never runs one).
2. Starts `python -m jupyter server` with the labdeck extension in a subprocess and
   waits for /api/status.
3. From one persistent loopback HTTP/1.1 connection (http.client), sequential
   requests, `Authorization: Bearer <key>`, rotating over --keys users who are all
   in the big team: --warmup requests, then --requests timed ones, of each of
   GET /me, GET /teams/{big team}/members?limit=100 and PATCH /me {"name": ...};
   and GET /me with the server's Jupyter token (`Authorization: token …`), which
   is the server's owner (F-ID-1), created by the first of those requests.
   Each figure is the wall time from sending the request to having read the whole
   answer (the client's own share included, which is small).
4. With --profile, also times the service calls behind them in-process (no HTTP:
   authenticate_key, get_profile, list_members, update_profile), then runs them
   under cProfile and prints the top entries by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import http.client
import io
import json
import os
import platform
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import Connection, make_url

from labdeck.backend.config import Settings
from labdeck.backend.context import Actor, Backend
from labdeck.backend.db import Database
from labdeck.backend.models import Email, Membership, Organization, OrgMember, Team, User
from labdeck.backend.services import apikeys, members, profile

PREFIX = "/labdeck/api"
TARGET_P99_MS = 20.0


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class JupyterServer:
    """`python -m jupyter server` with labdeck, in a subprocess with its own Jupyter dirs."""

    def __init__(self, database_url: str, workdir: Path, token: str = "benchtoken") -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.token = token
        self.port = free_port()
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        for sub in ("root", "config", "data", "runtime", "storage"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            LABDECK_STORAGE_URL=(self.workdir / "storage").as_uri(),
            JUPYTER_CONFIG_DIR=str(self.workdir / "config"),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        env.pop("LABDECK_DATABASE_URL", None)
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.workdir / 'root'}",
            f"--IdentityProvider.token={self.token}",
            """--ServerApp.jpserver_extensions={"labdeck": True}""",
            f"--LabdeckApp.database_url={self.database_url}",
            "--LabdeckApp.reaper_interval=0",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"jupyter server exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/status", headers={"Authorization": f"token {self.token}"})
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"jupyter server did not answer in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)


@contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[JupyterServer]:
    server = JupyterServer(database_url, workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    authorization: str,
    body: bytes | None = None,
) -> tuple[int, bytes]:
    headers = {"Authorization": authorization}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, PREFIX + path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


# --- databases ---------------------------------------------------------------------------------


@contextmanager
def database(url: str | None, keep: bool) -> Iterator[tuple[str, Path]]:
    """(database URL, scratch directory): a SQLite file under a temporary directory, or a
    PostgreSQL database created here (it must not exist yet) and dropped afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="labdeck-bench-"))
    created: str | None = None
    admin_url = None
    try:
        if url is None:
            url = f"sqlite:///{workdir / 'labdeck.db'}"
        elif url.startswith("postgresql"):
            parsed = make_url(url)
            created = parsed.database
            if not created:
                raise SystemExit("--database-url must name a database")
            admin_url = parsed.set(database="postgres")
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{created}"'))
            admin.dispose()
        yield url, workdir
    finally:
        if created is not None and admin_url is not None and not keep:
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)'))
            admin.dispose()
        if keep:
            print(f"kept {url} and {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# --- seeding -----------------------------------------------------------------------------------


@dataclass
class Seeded:
    big_team: str
    big_team_members: int
    measured_user_ids: list[int]
    seconds: float
    rows: dict[str, int]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _insert(conn: Connection, model: Any, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    table = _table(model)
    for i in range(0, len(rows), chunk):
        conn.execute(table.insert(), rows[i : i + chunk])


def team_sizes(teams: int, memberships: int, big: int) -> list[int]:
    """Team 0 gets `big` members; the rest share what is left as evenly as can be."""
    rest, extra = divmod(memberships - big, teams - 1)
    return [big] + [rest + (1 if i < extra else 0) for i in range(teams - 1)]


def seed(
    url: str, users: int, teams: int, memberships: int, orgs: int, big: int, keys: int
) -> Seeded:
    started = time.perf_counter()
    db = Database(url)
    db.upgrade()
    now = dt.datetime.now(dt.timezone.utc)
    user_rows = [
        {
            "id": i + 1,
            "username": f"user{i:05d}",
            "account_type": "admin" if i == 0 else "user",
            "name": f"User {i}",
            "institution": "Bench Labs" if i % 3 == 0 else "",
            "created_at": now,
        }
        for i in range(users)
    ]
    email_rows = [
        {
            "user_id": i + 1,
            "address": f"user{i:05d}@example.com",
            "verified": True,
            "is_primary": True,
            "login_methods": ["operator"],
            "created_at": now,
        }
        for i in range(users)
    ] + [
        {
            "user_id": i + 1,
            "address": f"user{i:05d}@lab.example.org",
            "verified": False,
            "is_primary": False,
            "login_methods": [],
            "created_at": now,
        }
        for i in range(0, users, 10)
    ]
    org_rows = [{"id": o + 1, "name": f"org{o:03d}", "created_at": now} for o in range(orgs)]
    team_rows = [
        {"id": t + 1, "name": f"team{t:04d}", "type": "work", "org_id": t % orgs + 1}
        for t in range(teams)
    ]
    sizes = team_sizes(teams, memberships, big)
    membership_rows: list[dict[str, Any]] = []
    org_members: dict[tuple[int, int], bool] = {}
    start = 0
    stride = users // big
    for t, size in enumerate(sizes):
        org_id = t % orgs + 1
        for j in range(size):
            # The big team's members are spread over the whole user name range; the
            # other teams take consecutive users, wrapping around.
            user_id = (j * stride if t == 0 else (start + j) % users) + 1
            admin = j == 0
            membership_rows.append(
                {
                    "team_id": t + 1,
                    "user_id": user_id,
                    "role": "admin" if admin else "member",
                    "registry_admin": False,
                    "created_at": now,
                }
            )
            # The first team's admin in an organization created it, so administers it.
            first_of_org = t < orgs and admin
            org_members[(org_id, user_id)] = org_members.get((org_id, user_id), False) or (
                first_of_org
            )
        start += size
    org_member_rows = [
        {
            "org_id": org_id,
            "user_id": user_id,
            "is_admin": is_admin,
            "models_access": "full",
            "weave_access": "full",
        }
        for (org_id, user_id), is_admin in org_members.items()
    ]
    with db.engine.begin() as conn:
        _insert(conn, User, user_rows)
        _insert(conn, Email, email_rows)
        _insert(conn, Organization, org_rows)
        _insert(conn, Team, team_rows)
        _insert(conn, OrgMember, org_member_rows)
        _insert(conn, Membership, membership_rows)
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; later inserts must not collide.
            for table in ("users", "emails", "organizations", "teams"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    if db.engine.dialect.name == "postgresql":
        # Autovacuum would analyze tables this size within a minute; SQLite is left without
        # statistics, as labdeck never runs ANALYZE there.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    # The measured users: the big team's first `keys` members (its admin first).
    measured = [row["user_id"] for row in membership_rows[:keys]]
    db.dispose()
    return Seeded(
        big_team="team0000",
        big_team_members=big,
        measured_user_ids=measured,
        seconds=time.perf_counter() - started,
        rows={
            "users": len(user_rows),
            "emails": len(email_rows),
            "organizations": len(org_rows),
            "teams": len(team_rows),
            "org_members": len(org_member_rows),
            "memberships": len(membership_rows),
        },
    )


def make_keys(url: str, storage: Path, user_ids: list[int]) -> list[str]:
    backend = Backend(Database(url), Settings(storage_url=storage.as_uri()))
    try:
        return [apikeys.create_key(backend, Actor(uid), "benchmark")["secret"] for uid in user_ids]
    finally:
        backend.db.dispose()


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Stats:
    name: str
    samples_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        rank = max(int(round(p / 100 * len(ordered) + 0.5)) - 1, 0)
        return ordered[min(rank, len(ordered) - 1)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)


def measure(
    conn: http.client.HTTPConnection,
    authorizations: list[str],
    name: str,
    method: str,
    path: str,
    body: Callable[[int], bytes | None],
    warmup: int,
    count: int,
) -> Stats:
    samples: list[float] = []
    for i in range(warmup + count):
        authorization = authorizations[i % len(authorizations)]
        payload = body(i)
        begin = time.perf_counter()
        status, data = call(conn, method, path, authorization, payload)
        elapsed = (time.perf_counter() - begin) * 1000
        if status != 200:
            raise SystemExit(f"{method} {path} answered {status}: {data[:300]!r}")
        if i >= warmup:
            samples.append(elapsed)
    return Stats(name, samples)


def print_table(title: str, results: list[Stats]) -> None:
    print(title)
    header = f"  {'request':44s} {'n':>5s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s}"
    print(header + f" {'max ms':>8s}  p99<{TARGET_P99_MS:.0f}ms")
    for r in results:
        ok = "yes" if r.percentile(99) < TARGET_P99_MS else "NO"
        print(
            f"  {r.name:44s} {len(r.samples_ms):5d} {r.percentile(50):8.2f} {r.percentile(99):8.2f}"
            f" {r.mean:8.2f} {max(r.samples_ms):8.2f}  {ok}"
        )


def run_http(server: JupyterServer, keys: list[str], team: str, warmup: int, count: int) -> None:
    conn = server.connection()
    bearers = [f"Bearer {key}" for key in keys]
    results = [
        measure(conn, bearers, "GET /me", "GET", "/me", lambda i: None, warmup, count),
        # The server's own sign-in (its Jupyter token): the server owner's
        # account, found by its external name on every request.
        measure(
            conn,
            [f"token {server.token}"],
            "GET /me (Jupyter token: the server's owner)",
            "GET",
            "/me",
            lambda i: None,
            warmup,
            count,
        ),
        measure(
            conn,
            bearers,
            f"GET /teams/{team}/members?limit=100",
            "GET",
            f"/teams/{team}/members?limit=100",
            lambda i: None,
            warmup,
            count,
        ),
        measure(
            conn,
            bearers,
            'PATCH /me {"name": ...}',
            "PATCH",
            "/me",
            lambda i: json.dumps({"name": f"Benchmark Name {i}"}).encode(),
            warmup,
            count,
        ),
    ]
    conn.close()
    print_table(f"HTTP, one keep-alive connection, {len(keys)} API key(s) in turn:", results)


def profile_services(url: str, storage: Path, user_id: int, team: str, count: int) -> None:
    """The three calls' service functions in-process (auth included), under cProfile."""
    from labdeck.backend.services import identity

    backend = Backend(Database(url), Settings(storage_url=storage.as_uri()))
    key = apikeys.create_key(backend, Actor(user_id), "profile")["secret"]
    actor = Actor(user_id)

    def one_round(i: int) -> None:
        identity.authenticate_key(backend, key)
        profile.get_profile(backend, actor)
        identity.authenticate_key(backend, key)
        members.list_members(backend, actor, team, 100)
        identity.authenticate_key(backend, key)
        profile.update_profile(backend, actor, {"name": f"Profiled {i}"})

    for i in range(20):
        one_round(i)
    calls: dict[str, Callable[[int], object]] = {
        "authenticate_key": lambda i: identity.authenticate_key(backend, key),
        "get_profile": lambda i: profile.get_profile(backend, actor),
        "list_members (limit 100)": lambda i: members.list_members(backend, actor, team, 100),
        "update_profile": lambda i: profile.update_profile(backend, actor, {"name": f"P {i}"}),
    }
    timed: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(count):
        for name, fn in calls.items():
            begin = time.perf_counter()
            fn(i)
            timed[name].append((time.perf_counter() - begin) * 1000)
    print_table("In-process service calls (no HTTP):", [Stats(k, v) for k, v in timed.items()])
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(count):
        one_round(i)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    print(f"cProfile of {count} rounds (auth + each service call), by cumulative time:")
    print(out.getvalue())
    backend.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL of a database to create and drop")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=1_000)
    parser.add_argument("--memberships", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--big-team", type=int, default=1_000, help="members of the measured team")
    parser.add_argument("--keys", type=int, default=4, help="measured users, each with a key")
    parser.add_argument("--requests", type=int, default=1_000, help="timed requests per call")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="also cProfile the services")
    parser.add_argument("--keep", action="store_true", help="keep the database and temp dir")
    args = parser.parse_args()
    if args.big_team < 101 or args.big_team > args.users:
        parser.error("--big-team must be between 101 and --users (a full page of 100 and more)")
    if args.memberships > args.users * args.teams:
        parser.error("more memberships than user × team pairs")

    print(
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with database(args.database_url, args.keep) as (url, workdir):
        print(f"database: {make_url(url).render_as_string(hide_password=True)}")
        seeded = seed(
            url, args.users, args.teams, args.memberships, args.orgs, args.big_team, args.keys
        )
        counts = ", ".join(f"{n:,} {table}" for table, n in seeded.rows.items())
        print(f"seeded in {seeded.seconds:.1f} s: {counts}")
        keys = make_keys(url, workdir / "storage", seeded.measured_user_ids)
        with running_server(url, workdir) as server:
            print(f"jupyter server on 127.0.0.1:{server.port} (log: {server.log_path})")
            run_http(server, keys, seeded.big_team, args.warmup, args.requests)
        if args.profile:
            profile_services(
                url, workdir / "storage", seeded.measured_user_ids[0], seeded.big_team, 300
            )


if __name__ == "__main__":
    main()
