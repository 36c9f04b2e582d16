"""Threshold rules (F-SM-11): a person's over their own runs
(`/me/alert-rules`), a team's over the runs of its projects
(`/teams/{team}/alert-rules`, "manage team alert rules").

A rule is a key pattern (`gpu.*.temp`, `proc.memory.percent`), a
comparison, a value, how long the value must stay past it (seconds of
sample time) and the channels its alerts go to. They are evaluated at
ingest (`labdeck.backend.thresholds`); this module only keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user, require_team, visible_team
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, Malformed, NotFound
from ..models import AlertMark, AlertRule, User
from ..notifier import CHANNELS
from ..thresholds import COMPARISONS
from .runs import load_run

FIELDS = ("key_pattern", "comparison", "value", "duration_s", "channels", "enabled")
REQUIRED = ("key_pattern", "comparison", "value")
# Every rule of a run's creator and team is checked against every batch:
# a bound keeps that cost bounded (benchmarks/alert_rules.py measures it).
MAX_RULES = 100
MAX_DURATION_S = 7 * 24 * 3600
MAX_PATTERN = 512


def rule_view(rule: AlertRule, team: str | None = None) -> dict[str, Any]:
    return {
        "id": rule.id,
        "team": team,
        "key_pattern": rule.key_pattern,
        "comparison": rule.comparison,
        "value": rule.value,
        "duration_s": rule.duration_s,
        "channels": list(rule.channels or ()),
        "enabled": rule.enabled,
        "created_at": rule.created_at.isoformat(),
    }


def _channels(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid(
            f"channels must be a non-empty list of {', '.join(CHANNELS)}", field="channels"
        )
    chosen: list[str] = []
    for channel in value:
        if channel not in CHANNELS:
            raise Invalid(
                f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}",
                field="channels",
            )
        if channel not in chosen:
            chosen.append(channel)
    return chosen


def _clean(body: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise Malformed("a rule must be a JSON object")
    validate.only_fields(body, FIELDS)
    if creating:
        for name in REQUIRED:
            if name not in body:
                raise Invalid(f"{name} is required", field=name)
    clean: dict[str, Any] = {}
    if "key_pattern" in body:
        pattern = validate.text(body["key_pattern"], "key_pattern", min_len=1, max_len=MAX_PATTERN)
        if not pattern.isprintable() or any(c.isspace() for c in pattern):
            raise Invalid(
                "key_pattern must be a metric key or a pattern such as gpu.*.temp "
                "(printable, no spaces)",
                field="key_pattern",
            )
        clean["key_pattern"] = pattern
    if "comparison" in body:
        clean["comparison"] = validate.choice(body["comparison"], "comparison", tuple(COMPARISONS))
    if "value" in body:
        clean["value"] = validate.finite_number(body["value"], "value", "value")
    if "duration_s" in body:
        seconds = validate.finite_number(body["duration_s"], "duration_s", "duration_s")
        if not 0 <= seconds <= MAX_DURATION_S:
            raise Invalid(
                f"duration_s must be between 0 and {MAX_DURATION_S} seconds (7 days)",
                field="duration_s",
            )
        clean["duration_s"] = seconds
    if "channels" in body:
        clean["channels"] = _channels(body["channels"])
    if "enabled" in body:
        clean["enabled"] = validate.flag(body["enabled"], "enabled")
    return clean


def _rule_id(value: Any) -> int:
    if not validate.is_row_id(value):
        raise NotFound("no alert rule with that id")
    return int(value)


def _count(session: Session, **owner: int) -> int:
    where = [getattr(AlertRule, key) == value for key, value in owner.items()]
    return int(session.scalar(select(func.count(AlertRule.id)).where(*where)) or 0)


def _create(session: Session, user: User, clean: dict[str, Any], **owner: int) -> AlertRule:
    if _count(session, **owner) >= MAX_RULES:
        raise Conflict(f"at most {MAX_RULES} alert rules; delete one first")
    rule = AlertRule(
        **owner,
        key_pattern=clean["key_pattern"],
        comparison=clean["comparison"],
        value=clean["value"],
        duration_s=clean.get("duration_s", 0.0),
        channels=clean.get("channels", ["email"]),
        enabled=clean.get("enabled", True),
        created_by=user.id,
    )
    session.add(rule)
    session.flush()
    return rule


def _apply(rule: AlertRule, clean: dict[str, Any]) -> None:
    for name, value in clean.items():
        setattr(rule, name, value)


# -- a person's rules ----------------------------------------------------------------------


def _my_rule(session: Session, user: User, rule_id: Any) -> AlertRule:
    rule = session.get(AlertRule, _rule_id(rule_id))
    if rule is None or rule.user_id != user.id:
        raise NotFound("no alert rule with that id")
    return rule


def list_my_rules(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        rules = session.scalars(
            select(AlertRule).where(AlertRule.user_id == user.id).order_by(AlertRule.id)
        )
        return [rule_view(rule) for rule in rules]


def create_my_rule(backend: Backend, actor: Actor, body: Any) -> dict[str, Any]:
    clean = _clean(body, creating=True)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        return rule_view(_create(session, user, clean, user_id=user.id))


def patch_my_rule(backend: Backend, actor: Actor, rule_id: Any, body: Any) -> dict[str, Any]:
    clean = _clean(body, creating=False)
    with backend.db.transaction() as session:
        rule = _my_rule(session, actor_user(session, actor), rule_id)
        _apply(rule, clean)
        session.flush()
        return rule_view(rule)


def delete_my_rule(backend: Backend, actor: Actor, rule_id: Any) -> None:
    with backend.db.transaction() as session:
        session.delete(_my_rule(session, actor_user(session, actor), rule_id))


# -- a team's rules ------------------------------------------------------------------------


def _team_rule(session: Session, team_id: int, rule_id: Any) -> AlertRule:
    rule = session.get(AlertRule, _rule_id(rule_id))
    if rule is None or rule.team_id != team_id:
        raise NotFound("no alert rule with that id")
    return rule


def list_team_rules(backend: Backend, actor: Actor, team: str) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require_team(session, user, found, "view team alert rules")
        rules = session.scalars(
            select(AlertRule).where(AlertRule.team_id == found.id).order_by(AlertRule.id)
        )
        return [rule_view(rule, found.name) for rule in rules]


def create_team_rule(backend: Backend, actor: Actor, team: str, body: Any) -> dict[str, Any]:
    clean = _clean(body, creating=True)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require_team(session, user, found, "manage team alert rules")
        return rule_view(_create(session, user, clean, team_id=found.id), found.name)


def patch_team_rule(
    backend: Backend, actor: Actor, team: str, rule_id: Any, body: Any
) -> dict[str, Any]:
    clean = _clean(body, creating=False)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require_team(session, user, found, "manage team alert rules")
        rule = _team_rule(session, found.id, rule_id)
        _apply(rule, clean)
        session.flush()
        return rule_view(rule, found.name)


def delete_team_rule(backend: Backend, actor: Actor, team: str, rule_id: Any) -> None:
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require_team(session, user, found, "manage team alert rules")
        session.delete(_team_rule(session, found.id, rule_id))


# -- what a run's chart marks --------------------------------------------------------------


def mark_view(mark: AlertMark) -> dict[str, Any]:
    return {
        "id": mark.id,
        "rule_id": mark.rule_id,
        "key": mark.key,
        "kind": mark.kind,
        "t": mark.t,
        "value": mark.value,
        "text": mark.text,
    }


def list_alert_marks(backend: Backend, actor: Actor, run_id: str) -> list[dict[str, Any]]:
    """The breaches and recoveries of threshold rules on a run, by time:
    whoever may see the run's metrics ("view experiment metadata") sees them."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        marks = session.scalars(
            select(AlertMark).where(AlertMark.run_id == run.id).order_by(AlertMark.t, AlertMark.id)
        )
        return [mark_view(mark) for mark in marks]
