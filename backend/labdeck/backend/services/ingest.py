"""Samples into a running run (F-SM-7), and the kernel's heartbeat.

This is the path every recording kernel takes at each flush (every 5 s by
default) and `POST /runs/{id}/metrics` takes per batch, so what it costs is
paid by the monitored process itself. It runs on a Core connection, not an
ORM session (no identity map, no unit of work to flush), and touches each
table once per call:

- one SELECT loads, in one row, every fact the checks need: the account,
  the run, its project, the account's membership and custom role on the
  project's team, whose quota the data counts against, and how many
  threshold rules (F-SM-11) could apply to the run. The decision is
  the same as everywhere else: `access.subject_on_project` on those facts,
  then `permissions.require`, then the run's lifecycle rules. On PostgreSQL
  the same statement takes the lock of whose quota the data counts against
  (`locks`), so the quota check below cannot be passed by two writers at once;
- one SELECT of the run's series (plus one INSERT of the keys it lacks),
  one statement for the owner's storage usage;
- the INSERT of the points, the upsert of their summaries (`rollups`), the
  UPDATE of the series counters and the UPDATE of the heartbeat: on SQLite
  four statements (an executemany each, rows as tuples, `bulk.py`), on
  PostgreSQL one (the rows as one array per column, unnested by the server,
  the four writes as data-modifying CTEs: one round trip);
- only when some rule could apply: the rules, and the states of those that
  match a key of the batch, read and written (`thresholds`), never the
  points already stored.

A duplicate is a point at a (series, t) already stored: the stored value is
kept and the new one skipped, so a client may safely resend a batch whose
answer it never got. Writes into one run hold the same quota lock, so even
copies of a batch sent at once are counted once: the series counters, the
rollups, the storage used and the `written` answers all equal what is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Insert,
    Table,
    and_,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from .. import bulk, locks, rollups, storage, thresholds, validate
from ..access import member_subject, subject_on_project
from ..context import Actor, Backend
from ..errors import Invalid, NotFound, TooLarge, Unauthenticated
from ..models import (
    CustomRole,
    Membership,
    MetricPoint,
    MetricSeries,
    Project,
    Run,
    Team,
    User,
    utcnow,
)
from ..permissions import require
from ..roles import is_admin_account
from .runs import require_logger, require_running

MAX_SAMPLES = 10_000
# One write holds the database's write lock (SQLite: the whole file's) for
# as long as it inserts, so a batch is capped: at the rate measured here
# (benchmarks/metrics_ingest.py, ~130k points/s over HTTP on SQLite) the
# largest takes well under a second, and a bigger one answers 413 before the
# database is touched. A kernel's flush is a few thousand points.
MAX_POINTS_PER_CALL = 50_000
MAX_KEY_LEN = 512
_POINTS: Table = MetricPoint.__table__  # type: ignore[assignment]
_SERIES: Table = MetricSeries.__table__  # type: ignore[assignment]
_RUNS: Table = Run.__table__  # type: ignore[assignment]
_USERS: Table = User.__table__  # type: ignore[assignment]
_PROJECTS: Table = Project.__table__  # type: ignore[assignment]
_MEMBERS: Table = Membership.__table__  # type: ignore[assignment]
_ROLES: Table = CustomRole.__table__  # type: ignore[assignment]
_TEAMS: Table = Team.__table__  # type: ignore[assignment]
_OWNERS = _USERS.alias("owner")
# An int strictly inside this bound converts to a finite float (the fast path of
# `_parse_samples`); any other goes through `finite_number`, which refuses it.
_FLOAT_SAFE_INT = 2**1023


def _key(key: Any, i: int) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise Invalid(
            f"samples[{i}]: metric keys must be 1–{MAX_KEY_LEN} printable characters",
            field="samples",
        )
    return key


def _parse_samples(samples: Any) -> dict[str, dict[float, float]]:
    """key → {t: v}; a later sample of the same batch wins a repeated time.

    This loop runs once per point, so plain floats and ints take a fast path
    and each key is checked once per batch; anything else goes through
    `finite_number`."""
    if not isinstance(samples, Sequence) or isinstance(samples, (str, bytes)):
        raise Invalid("samples must be a list", field="samples")
    if len(samples) > MAX_SAMPLES:
        raise TooLarge(f"at most {MAX_SAMPLES} samples per call; send the rest in another batch")
    series: dict[str, dict[float, float]] = {}
    finite = math.isfinite
    finite_number = validate.finite_number
    total = 0
    for i, sample in enumerate(samples):
        if not isinstance(sample, Mapping) or len(sample) != 2 or set(sample) != {"t", "values"}:
            raise Invalid(f'samples[{i}] must be {{"t": ..., "values": {{...}}}}', field="samples")
        t = sample["t"]
        if type(t) is not float or not finite(t):
            t = finite_number(t, f"samples[{i}].t", "samples")
        values = sample["values"]
        if not isinstance(values, Mapping):
            raise Invalid(f"samples[{i}].values must be an object", field="samples")
        total += len(values)
        if total > MAX_POINTS_PER_CALL:
            raise TooLarge(
                f"at most {MAX_POINTS_PER_CALL} points (sample values) per call; "
                "send the rest in another batch"
            )
        for key, raw in values.items():
            kind = type(raw)
            if kind is float and finite(raw):
                value = raw
            elif kind is int and -_FLOAT_SAFE_INT < raw < _FLOAT_SAFE_INT:
                value = float(raw)
            elif kind is bool:
                value = 1.0 if raw else 0.0
            else:
                value = finite_number(raw, f"samples[{i}].values[{key!r}]", "samples")
            points = series.get(key)
            if points is None:
                points = series[_key(key, i)] = {}
            points[t] = value
    return series


def first_batch(samples: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The longest head of `samples` that one call takes (`MAX_SAMPLES`,
    `MAX_POINTS_PER_CALL`), at least one sample: how a client splits a backlog."""
    points = 0
    for i, sample in enumerate(samples[:MAX_SAMPLES]):
        values = sample.get("values")
        points += len(values) if isinstance(values, Mapping) else 0
        if points > MAX_POINTS_PER_CALL and i > 0:
            return samples[:i]
    return samples[:MAX_SAMPLES]


# -- who may write: every fact in one row ---------------------------------------------------

_TARGET = (
    select(
        _USERS.c.deleted,
        _USERS.c.account_type,
        _USERS.c.service_team_id,
        _RUNS.c.id.label("run_id"),
        _RUNS.c.state,
        _RUNS.c.ended_at,
        _RUNS.c.logged_by,
        _RUNS.c.created_by.label("run_created_by"),
        _PROJECTS.c.team_id,
        _PROJECTS.c.owner_id,
        _PROJECTS.c.visibility,
        _PROJECTS.c.created_by.label("project_created_by"),
        _MEMBERS.c.role,
        _MEMBERS.c.registry_admin,
        _ROLES.c.extra_actions,
        _TEAMS.c.name.label("team_name"),
        _TEAMS.c.storage_quota_bytes.label("team_quota"),
        _OWNERS.c.username.label("owner_name"),
        _OWNERS.c.storage_quota_bytes.label("owner_quota"),
        thresholds.rules_of_run(_RUNS.c.created_by, _PROJECTS.c.team_id).label("rules"),
    )
    .select_from(_USERS)
    .outerjoin(_RUNS, _RUNS.c.id == bindparam("run_id"))
    .outerjoin(_PROJECTS, _PROJECTS.c.id == _RUNS.c.project_id)
    .outerjoin(
        _MEMBERS,
        and_(_MEMBERS.c.team_id == _PROJECTS.c.team_id, _MEMBERS.c.user_id == _USERS.c.id),
    )
    .outerjoin(_ROLES, _ROLES.c.id == _MEMBERS.c.custom_role_id)
    .outerjoin(_TEAMS, _TEAMS.c.id == _PROJECTS.c.team_id)
    .outerjoin(_OWNERS, _OWNERS.c.id == _PROJECTS.c.owner_id)
    .where(_USERS.c.id == bindparam("user_id"))
)
# A write also takes its quota owner's lock (`locks`) in this first statement,
# so the usage it reads next, and the points already stored, are exact.
_TARGET_LOCKING = _TARGET.add_columns(
    locks.quota_lock_column(_PROJECTS.c.team_id, _PROJECTS.c.owner_id).label("quota_lock")
)


@dataclass(frozen=True)
class _ProjectFacts:
    team_id: int | None
    owner_id: int | None
    visibility: str
    created_by: int | None


@dataclass(frozen=True)
class _Target:
    """A run the actor may write into, with whose quota its data counts against."""

    id: str
    state: str
    logged_by: int
    created_by: int
    team_id: int | None
    quota: storage.QuotaOwner
    rules: int = 0
    ended_at: dt.datetime | None = None


def _target(
    conn: Connection, actor: Actor, run_id: Any, doing: str, action: str | None, *, lock: bool
) -> _Target:
    """The checks of a kernel's call into its run (`runs.load_run`,
    `require_logger`, then `action` if any), in that order, on one row;
    `lock` takes the quota owner's lock on PostgreSQL as the row is read."""
    wanted = run_id if isinstance(run_id, str) and len(run_id) <= 16 else ""
    query = _TARGET_LOCKING if lock and conn.dialect.name == "postgresql" else _TARGET
    row = conn.execute(query, {"user_id": actor.user_id, "run_id": wanted}).one_or_none()
    if row is None or row.deleted:
        raise Unauthenticated("this account no longer exists")
    project = _ProjectFacts(row.team_id, row.owner_id, row.visibility, row.project_created_by)
    team = None
    if row.team_id is not None:
        team = member_subject(
            row.role,
            bool(row.registry_admin),
            row.extra_actions or (),
            is_admin_account(row.account_type),
        )
    subject = None
    if row.run_id is not None:
        subject = subject_on_project(
            actor.user_id, row.account_type, row.service_team_id, project, team
        )
    if subject is None:
        raise NotFound("no run with that id")
    if row.team_id is not None:
        owner = storage.QuotaOwner(row.team_id, None, f"team {row.team_name}", row.team_quota)
    else:
        owner = storage.QuotaOwner(None, row.owner_id, f"user {row.owner_name}", row.owner_quota)
    target = _Target(
        row.run_id,
        row.state,
        row.logged_by,
        row.run_created_by,
        row.team_id,
        owner,
        row.rules,
        row.ended_at,
    )
    require_logger(target, actor.user_id, doing)
    if action is not None:
        require(action, subject)
    return target


# -- points, summaries and counters ---------------------------------------------------------


def _insert_ignore(conn: Connection, table: Table) -> Insert:
    """The dialect's INSERT that skips rows whose key already exists."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


_POINT_COLUMNS = {"series_id": "integer", "t": "double precision", "v": "double precision"}
# Points travel as (series_id, t, v) tuples: a flush makes one per point.
Point = tuple[int, float, float]
_SQLITE_POINTS_INSERT = bulk.sqlite_positional(
    sqlite.insert(_POINTS)
    .values({c: bindparam(c) for c in _POINT_COLUMNS})
    .on_conflict_do_nothing(),
    list(_POINT_COLUMNS),
)
_PG_POINTS_INSERT = (  # psycopg's parameter style: part of `_PG_WRITE`
    f"INSERT INTO metric_points (series_id, t, v) {bulk.unnest(_POINT_COLUMNS, 'p_')} "
    "ON CONFLICT DO NOTHING"
)


_SERIES_OF_RUN = select(_SERIES.c.key, _SERIES.c.id, _SERIES.c.last_t).where(
    _SERIES.c.run_id == bindparam("run_id")
)
# On SQLite (a kernel's own file: the recorder's flush is paid by the monitored
# process) the two statements every flush runs besides the bulk ones go to the
# driver as compiled here, sparing SQLAlchemy's per-call work (~0.1 ms each on
# the 2-core machine of docs/sampling.md); their columns need no conversion but
# the heartbeat's time, converted by the column's own type.
_SQLITE_SERIES_OF_RUN = bulk.sqlite_sql(_SERIES_OF_RUN)


def _series_ids(
    conn: Connection, run_id: str, keys: list[str]
) -> dict[str, tuple[int, float | None]]:
    """key → (series id, last time), creating the missing series."""

    def load() -> dict[str, tuple[int, float | None]]:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(_SQLITE_SERIES_OF_RUN, {"run_id": run_id})
        else:
            rows = conn.execute(_SERIES_OF_RUN, {"run_id": run_id})
        return {key: (sid, last) for key, sid, last in rows}

    known = load()
    missing = [k for k in keys if k not in known]
    if missing:
        conn.execute(
            _insert_ignore(conn, _SERIES),
            [{"run_id": run_id, "key": k, "count": 0, "last_t": None} for k in missing],
        )
        known = load()
    return known


def _already_stored(
    conn: Connection,
    series: dict[str, dict[float, float]],
    ids: dict[str, tuple[int, float | None]],
) -> set[tuple[int, float]]:
    """(series id, t) of incoming points that may exist already: only those at
    or before a series' last time can, so an appending writer skips this."""
    suspects = {
        ids[key][0]: [t for t in points if t <= last]
        for key, points in series.items()
        if (last := ids[key][1]) is not None
    }
    suspects = {sid: ts for sid, ts in suspects.items() if ts}
    if not suspects:
        return set()
    low = min(min(ts) for ts in suspects.values())
    high = max(max(ts) for ts in suspects.values())
    rows = conn.execute(
        select(_POINTS.c.series_id, _POINTS.c.t).where(
            _POINTS.c.series_id.in_(list(suspects)), _POINTS.c.t >= low, _POINTS.c.t <= high
        )
    )
    return {(sid, t) for sid, t in rows}


_LAST: BindParameter[float] = bindparam("b_last")
_COUNTERS = (
    update(_SERIES)
    .where(_SERIES.c.id == bindparam("b_id"))
    .values(
        count=_SERIES.c.count + bindparam("b_n"),
        last_t=case(
            (or_(_SERIES.c.last_t.is_(None), _SERIES.c.last_t < _LAST), _LAST),
            else_=_SERIES.c.last_t,
        ),
    )
)
_SQLITE_COUNTERS = bulk.sqlite_sql(_COUNTERS)
_COUNTER_COLUMNS = {"b_id": "integer", "b_n": "integer", "b_last": "double precision"}
# greatest() skips NULL: a series' first points set its last time.
_PG_COUNTERS = (
    'UPDATE metric_series AS s SET "count" = s."count" + b.b_n, '
    "last_t = greatest(s.last_t, b.b_last) "
    f"FROM ({bulk.unnest(_COUNTER_COLUMNS)}) AS b WHERE s.id = b.b_id"
)


def _count_sqlite(conn: Connection, counters: list[tuple[int, int, float]]) -> None:
    """Add (series id, new points, their last time) to each series' counters."""
    rows = [{"b_id": sid, "b_n": n, "b_last": last} for sid, n, last in counters]
    conn.exec_driver_sql(_SQLITE_COUNTERS, rows)


_BEAT = update(_RUNS).where(_RUNS.c.id == bindparam("run_id")).values(heartbeat_at=bindparam("now"))
_SQLITE_BEAT = bulk.sqlite_sql(_BEAT)


def _time_for(dialect: Dialect) -> Callable[[dt.datetime], Any]:
    """The heartbeat column's conversion of a time on `dialect` (naive UTC),
    for statements sent to the driver as written, which skip SQLAlchemy's."""
    process = _RUNS.c.heartbeat_at.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda when: when)


_SQLITE_TIME = _time_for(sqlite.dialect())
_PG_TIME = _time_for(postgresql.psycopg.dialect())


def _beat(conn: Connection, run_id: str) -> dt.datetime:
    now = utcnow()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_BEAT, {"run_id": run_id, "now": _SQLITE_TIME(now)})
    else:
        conn.execute(_BEAT, {"run_id": run_id, "now": now})
    return now


# On PostgreSQL the points, their summaries, the series' counters and the
# heartbeat are one statement (data-modifying CTEs on four tables, none reading
# another's rows): one round trip, one parse and bind, where four cost the
# service more CPU a batch (benchmarks/hub_load.py, docs/hub.md).
_PG_WRITE = (
    f"WITH points AS ({_PG_POINTS_INSERT}), summaries AS ({rollups.PG_UPSERT}), "
    f"counters AS ({_PG_COUNTERS}) "
    "UPDATE runs SET heartbeat_at = %(now)s WHERE runs.id = %(run_id)s"
)


def _store(
    conn: Connection,
    run_id: str,
    points: list[Point],
    by_series: dict[int, dict[float, float]],
    counters: list[tuple[int, int, float]],
) -> None:
    """Insert new points, merge their summaries, count them and beat the run's heart."""
    summaries = rollups.summarize(by_series)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_POINTS_INSERT, points)
        rollups.upsert_sqlite(conn, summaries)
        _count_sqlite(conn, counters)
        _beat(conn, run_id)
        return
    conn.exec_driver_sql(
        _PG_WRITE,
        {
            **bulk.arrays(points, list(_POINT_COLUMNS), "p_"),
            **rollups.pg_parameters(summaries),
            **bulk.arrays(counters, list(_COUNTER_COLUMNS)),
            "now": _PG_TIME(utcnow()),
            "run_id": run_id,
        },
    )


_REVIVE = (
    update(_RUNS)
    .where(
        _RUNS.c.id == bindparam("run_id"),
        _RUNS.c.state == "crashed",
        _RUNS.c.ended_at == bindparam("was_ended_at"),
    )
    .values(state="running", ended_at=None)
)


def _epoch(when: dt.datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()


def _revive_if_alive(
    conn: Connection, run: _Target, series: dict[str, dict[float, float]]
) -> _Target:
    """A run reaped `crashed` while its kernel was alive (issue 9): its batch
    waited in an overloaded service's queue past the heartbeat staleness, or
    another service process reaped it. Points sampled after the run's end
    prove the kernel outlived it, so the run is `running` again and the batch
    is stored rather than refused (its points would be lost). The
    `run_crashed` alert already sent stays sent. A run that ended any other
    way, or a batch no newer than the end (a resent one), is refused as before."""
    if run.state != "crashed" or run.ended_at is None or not series:
        return run
    newest = max(max(points) for points in series.values() if points)
    if newest <= _epoch(run.ended_at):
        return run
    revived = conn.execute(_REVIVE, {"run_id": run.id, "was_ended_at": run.ended_at}).rowcount
    state = (
        "running"
        if revived
        else conn.execute(select(_RUNS.c.state).where(_RUNS.c.id == run.id)).scalar_one()
    )
    return replace(run, state=state, ended_at=None)


def write_samples(
    backend: Backend, actor: Actor, run_id: str, samples: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Store a batch of samples of a running run and refresh its heartbeat.
    Answers how many points were new and how many were already there."""
    series = _parse_samples(samples)
    with backend.db.statements() as conn:
        run = _target(conn, actor, run_id, "write its metrics", "log experiments", lock=True)
        run = _revive_if_alive(conn, run, series)
        require_running(run, "write metrics")
        ids = _series_ids(conn, run.id, list(series)) if series else {}
        stored = _already_stored(conn, series, ids)
        points: list[Point] = []
        counters: list[tuple[int, int, float]] = []
        new: dict[str, dict[float, float]] = {}
        by_series: dict[int, dict[float, float]] = {}
        for key, by_time in series.items():
            sid = ids[key][0]
            # An appending writer has nothing stored at these times: no filtering.
            fresh = (
                {t: v for t, v in by_time.items() if (sid, t) not in stored} if stored else by_time
            )
            if fresh:
                new[key] = by_series[sid] = fresh
                points.extend(zip(repeat(sid), fresh, fresh.values()))
                counters.append((sid, len(fresh), max(fresh)))
        storage.require_room(conn, backend, run.quota, storage.POINT_BYTES * len(points))
        if points:
            _store(conn, run.id, points, by_series, counters)
            # Threshold rules see every new point here, kernels' and REST writers' alike;
            # a run that no rule can apply to pays nothing more than a count above.
            if run.rules:
                before = {key: ids[key][1] for key in new}
                thresholds.evaluate(backend, conn, run.id, run.created_by, run.team_id, new, before)
        else:
            _beat(conn, run.id)
        total = sum(len(by_time) for by_time in series.values())
        return {"written": len(points), "duplicates": total - len(points)}


def warm_up(backend: Backend, actor: Actor, run_id: str) -> None:
    """A heartbeat that also runs every read of `write_samples` once, when a
    recorder starts, on its own thread: SQLAlchemy compiles a statement the
    first time an engine runs it (~20 ms for a first write, against a few ms
    for the next), and the sampler's process pays that CPU either way, so it
    is paid here at the start rather than in the middle of the run."""
    with backend.db.statements() as conn:
        run = _target(conn, actor, run_id, "send its heartbeat", None, lock=True)
        require_running(run, "send a heartbeat")
        conn.execute(_SERIES_OF_RUN, {"run_id": run.id}).all()
        if run.quota.team_id is not None:
            storage.usage_for_team(conn, run.quota.team_id)
        elif run.quota.user_id is not None:
            storage.usage_for_user(conn, run.quota.user_id)
        _beat(conn, run.id)


def heartbeat(backend: Backend, actor: Actor, run_id: str) -> dict[str, Any]:
    """The kernel's sign of life; a reaped run answers 409 so it learns why."""
    with backend.db.statements() as conn:
        run = _target(conn, actor, run_id, "send its heartbeat", None, lock=False)
        require_running(run, "send a heartbeat")
        now = _beat(conn, run.id)
        return {"id": run.id, "state": run.state, "heartbeat_at": now.isoformat()}
