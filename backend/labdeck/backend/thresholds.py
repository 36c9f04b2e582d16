"""Threshold rules evaluated where every sample passes: at ingest (F-SM-11).

`evaluate` runs inside `ingest.write_samples`' transaction on the points of
the batch that are new and later than what the series held. It never reads
raw points back: each rule keeps, per run and series, where it stands
(`AlertRuleState`: since when the value has been past the threshold, and
whether that streak already alerted), and only while it is past the
threshold: a rule whose series stays on the right side has no row at all.
So a batch costs one SELECT of the rules that could apply and, only when a
rule matches a key of the batch, one SELECT of their states; a write only
when a value crosses the threshold.

A breach is the value staying past the threshold for `duration_s` seconds
of sample time (0: the first sample past it). It raises one alert (one per
streak, not per sample) through the rule owner's channels, and marks the
run's chart; the first sample back on the right side ends the streak and is
recorded as a recovery mark (and an alert row, not sent). A sample at or
before the series' last time is not evaluated (a resent batch, a late
point), so the order of evaluation is the order of time.
"""

from __future__ import annotations

import fnmatch
import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from .context import Backend
from .models import AlertMark, AlertRule, AlertRuleState, Run

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_RULES: Table = AlertRule.__table__  # type: ignore[assignment]
_STATES: Table = AlertRuleState.__table__  # type: ignore[assignment]
_MARKS: Table = AlertMark.__table__  # type: ignore[assignment]

_APPLICABLE = select(
    _RULES.c.id,
    _RULES.c.user_id,
    _RULES.c.team_id,
    _RULES.c.key_pattern,
    _RULES.c.comparison,
    _RULES.c.value,
    _RULES.c.duration_s,
    _RULES.c.channels,
).where(
    _RULES.c.enabled.is_(True),
    or_(
        _RULES.c.user_id == bindparam("creator"),
        and_(_RULES.c.team_id.is_not(None), _RULES.c.team_id == bindparam("team")),
    ),
)


def rules_of_run(creator: Any, team_id: Any) -> Any:
    """A scalar subquery: how many enabled rules could apply to a run whose
    creator and team are these columns (the ingest's first SELECT carries it,
    so a run without rules costs no statement more)."""
    return (
        select(func.count(_RULES.c.id))
        .where(
            _RULES.c.enabled.is_(True),
            or_(
                _RULES.c.user_id == creator,
                and_(_RULES.c.team_id.is_not(None), _RULES.c.team_id == team_id),
            ),
        )
        .scalar_subquery()
    )


@functools.lru_cache(maxsize=1024)
def matcher(pattern: str) -> Callable[[str], Any]:
    """`gpu.*.temp` as a compiled whole-key match (`*` any run of characters,
    `?` one, `[…]` a class); a key without wildcards matches only itself."""
    return re.compile(fnmatch.translate(pattern)).match


@dataclass(frozen=True)
class Rule:
    id: int
    user_id: int | None
    team_id: int | None
    key_pattern: str
    comparison: str
    value: float
    duration_s: float
    channels: tuple[str, ...]

    def describe(self) -> str:
        held = f" for {self.duration_s:g} s" if self.duration_s else ""
        return f"{self.key_pattern} {self.comparison} {self.value:g}{held}"


@dataclass
class _State:
    since_t: float | None = None
    breached: bool = False
    known: bool = False
    changed: bool = False
    last_t: float | None = None


@dataclass(frozen=True)
class Event:
    rule: Rule
    key: str
    kind: str  # "breach" or "recovery"
    t: float
    value: float


def _step(
    rule: Rule, state: _State, points: list[tuple[float, float]]
) -> list[tuple[str, float, float]]:
    """Advance one rule on one series over time-ordered points."""
    past = COMPARISONS[rule.comparison]
    events: list[tuple[str, float, float]] = []
    before = (state.since_t, state.breached)
    for t, v in points:
        if past(v, rule.value):
            if state.since_t is None:
                state.since_t = t
            if not state.breached and t - state.since_t >= rule.duration_s:
                state.breached = True
                events.append(("breach", t, v))
        else:
            if state.breached:
                events.append(("recovery", t, v))
            state.since_t = None
            state.breached = False
    if (state.since_t, state.breached) != before:
        state.changed = True
        state.last_t = points[-1][0]
    return events


_STATES_OF_RUN = select(
    _STATES.c.rule_id, _STATES.c.key, _STATES.c.since_t, _STATES.c.breached
).where(_STATES.c.run_id == bindparam("run_id"))
_WILDCARDS = frozenset("*?[")


def _pairs(rules: list[Rule], series: Mapping[str, object]) -> list[tuple[Rule, str]]:
    """(rule, key) for each key of the batch a rule's pattern matches: a
    plain key is looked up, and each distinct pattern is matched once."""
    matched: dict[str, list[str]] = {}
    pairs: list[tuple[Rule, str]] = []
    for rule in rules:
        pattern = rule.key_pattern
        keys = matched.get(pattern)
        if keys is None:
            if _WILDCARDS.isdisjoint(pattern):
                keys = [pattern] if pattern in series else []
            else:
                match = matcher(pattern)
                keys = [key for key in series if match(key)]
            matched[pattern] = keys
        pairs.extend((rule, key) for key in keys)
    return pairs


def evaluate(
    backend: Backend,
    conn: Connection,
    run_id: str,
    creator: int,
    team_id: int | None,
    series: Mapping[str, Mapping[float, float]],
    after: Mapping[str, float | None],
) -> list[Event]:
    """Advance every rule that applies to this run over the batch's new
    points later than `after[key]` (the series' last time before the
    batch), record marks, and raise one alert per breach, in `conn`'s
    transaction."""
    rows = conn.execute(_APPLICABLE, {"creator": creator, "team": team_id}).all()
    if not rows:
        return []
    rules = [
        Rule(
            r.id,
            r.user_id,
            r.team_id,
            r.key_pattern,
            r.comparison,
            r.value,
            r.duration_s,
            tuple(r.channels or ()),
        )
        for r in rows
    ]
    pairs = _pairs(rules, series)
    if not pairs:
        return []
    states: dict[tuple[int, str], _State] = {}
    # Only series past a threshold have a row: the run's are few.
    stored = conn.execute(_STATES_OF_RUN, {"run_id": run_id})
    for rule_id, key, since_t, breached in stored:
        states[(rule_id, key)] = _State(since_t, bool(breached), known=True)
    events: list[Event] = []
    ordered: dict[str, list[tuple[float, float]]] = {}
    for rule, key in pairs:
        points = ordered.get(key)
        if points is None:
            last = after.get(key)
            points = ordered[key] = sorted(
                (t, v) for t, v in series[key].items() if last is None or t > last
            )
        if not points:
            continue
        state = states.setdefault((rule.id, key), _State())
        for kind, t, v in _step(rule, state, points):
            events.append(Event(rule, key, kind, t, v))
    _save_states(conn, run_id, states)
    if events:
        _record(backend, conn, run_id, events)
    return events


def _save_states(conn: Connection, run_id: str, states: dict[tuple[int, str], _State]) -> None:
    """A state row exists only while its series is past the threshold: one
    that came back is deleted, one that crossed is written (the writer holds
    the run's quota lock, `ingest`, so nobody races it)."""
    changed = [(k, s) for k, s in states.items() if s.changed]
    gone = [k for k, s in changed if s.known]
    if gone:
        conn.execute(
            delete(_STATES).where(
                _STATES.c.run_id == run_id,
                _STATES.c.rule_id == bindparam("b_rule"),
                _STATES.c.key == bindparam("b_key"),
            ),
            [{"b_rule": rule_id, "b_key": key} for rule_id, key in gone],
        )
    kept = [(k, s) for k, s in changed if s.since_t is not None]
    if kept:
        conn.execute(
            insert(_STATES),
            [
                {
                    "rule_id": rule_id,
                    "run_id": run_id,
                    "key": key,
                    "since_t": s.since_t,
                    "breached": s.breached,
                    "last_t": s.last_t,
                }
                for (rule_id, key), s in kept
            ],
        )


def _record(backend: Backend, conn: Connection, run_id: str, events: list[Event]) -> None:
    """Marks for the chart, and the alerts (rare: an ORM session on the same
    connection and transaction is cheap enough here)."""
    from .alerting import dispatch_threshold

    conn.execute(
        insert(_MARKS),
        [
            {
                "run_id": run_id,
                "rule_id": e.rule.id,
                "key": e.key,
                "kind": e.kind,
                "t": e.t,
                "value": e.value,
                "text": f"{e.kind}: {e.key} = {e.value:g} ({e.rule.describe()})"[:256],
            }
            for e in events
        ],
    )
    with Session(bind=conn) as session:
        run = session.get(Run, run_id)
        assert run is not None
        for e in events:
            dispatch_threshold(backend, session, run, e)
        session.flush()
