"""Threshold rules (F-SM-11): CRUD with clear refusals, who may keep team
rules, and evaluation at ingest: one alert per breach, a recorded recovery,
marks for the chart, resent batches changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.context import Backend
from labdeck.backend.errors import Conflict, Forbidden, Invalid, Malformed, NotFound
from labdeck.backend.models import Alert, AlertRule, Notification
from labdeck.backend.services import alert_rules, ingest, projects, runs, team_settings

GPU_HOT = {"key_pattern": "gpu.*.temp", "comparison": ">", "value": 85, "duration_s": 2}


def outbox(backend: Backend) -> list[tuple[str, str, str]]:
    with backend.db.reader() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [(n.channel, n.recipient, n.kind) for n in rows]


def threshold_alerts(backend: Backend) -> list[Alert]:
    with backend.db.reader() as session:
        return list(
            session.scalars(select(Alert).where(Alert.event == "threshold").order_by(Alert.id))
        )


def samples(start: float, values: list[float], key: str = "gpu.0.temp") -> list[dict[str, Any]]:
    return [{"t": start + i, "values": {key: v, "cpu": 3.0}} for i, v in enumerate(values)]


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Any]:
    people = acme
    projects.create_project(backend, people["alice"], "acme", "vision")
    people["run"] = runs.create_run(backend, people["bob"], "acme", "vision")["id"]
    return people


def test_a_rule_is_kept_as_given_and_bad_ones_change_nothing(backend, world) -> None:
    bob = world["bob"]
    rule = alert_rules.create_my_rule(backend, bob, {**GPU_HOT, "channels": ["email", "email"]})
    assert rule["key_pattern"] == "gpu.*.temp" and rule["channels"] == ["email"]
    assert rule["duration_s"] == 2 and rule["enabled"] is True and rule["team"] is None
    for bad, field in (
        ({**GPU_HOT, "comparison": "=>"}, "comparison"),
        ({**GPU_HOT, "value": "hot"}, "value"),
        ({**GPU_HOT, "value": float("nan")}, "value"),
        ({**GPU_HOT, "duration_s": -1}, "duration_s"),
        ({**GPU_HOT, "key_pattern": "gpu temp"}, "key_pattern"),
        ({**GPU_HOT, "channels": ["pager"]}, "channels"),
        ({**GPU_HOT, "channels": []}, "channels"),
        ({"key_pattern": "cpu", "comparison": ">"}, "value"),
        ({**GPU_HOT, "owner": "alice"}, "owner"),
    ):
        with pytest.raises(Invalid) as refused:
            alert_rules.create_my_rule(backend, bob, bad)
        assert refused.value.field == field
    with pytest.raises(Malformed):
        alert_rules.create_my_rule(backend, bob, ["not", "an", "object"])
    assert [r["id"] for r in alert_rules.list_my_rules(backend, bob)] == [rule["id"]]
    changed = alert_rules.patch_my_rule(backend, bob, rule["id"], {"value": 90, "enabled": False})
    assert changed["value"] == 90 and changed["enabled"] is False
    with pytest.raises(NotFound):
        alert_rules.patch_my_rule(backend, world["alice"], rule["id"], {"value": 1})
    with pytest.raises(NotFound):
        alert_rules.delete_my_rule(backend, world["alice"], rule["id"])
    alert_rules.delete_my_rule(backend, bob, rule["id"])
    assert alert_rules.list_my_rules(backend, bob) == []


def test_rules_per_owner_are_bounded(backend, world, monkeypatch) -> None:
    monkeypatch.setattr(alert_rules, "MAX_RULES", 2)
    for _ in range(2):
        alert_rules.create_my_rule(backend, world["bob"], GPU_HOT)
    with pytest.raises(Conflict):
        alert_rules.create_my_rule(backend, world["bob"], GPU_HOT)


def test_team_rules_are_kept_by_team_admins_and_seen_by_members(backend, world) -> None:
    made = alert_rules.create_team_rule(backend, world["alice"], "acme", GPU_HOT)
    assert made["team"] == "acme"
    assert [r["id"] for r in alert_rules.list_team_rules(backend, world["bob"], "acme")] == [
        made["id"]
    ]
    with pytest.raises(Forbidden):
        alert_rules.create_team_rule(backend, world["bob"], "acme", GPU_HOT)
    with pytest.raises(Forbidden):
        alert_rules.patch_team_rule(backend, world["bob"], "acme", made["id"], {"value": 1})
    with pytest.raises(Forbidden):
        alert_rules.list_team_rules(backend, world["vera"], "acme")
    with pytest.raises(NotFound):  # a personal rule is not the team's
        mine = alert_rules.create_my_rule(backend, world["alice"], GPU_HOT)
        alert_rules.delete_team_rule(backend, world["alice"], "acme", mine["id"])
    alert_rules.delete_team_rule(backend, world["alice"], "acme", made["id"])
    assert alert_rules.list_team_rules(backend, world["alice"], "acme") == []


def test_a_breach_raises_one_alert_and_a_recovery_is_marked(backend, world) -> None:
    bob, run_id = world["bob"], world["run"]
    rule = alert_rules.create_my_rule(backend, bob, GPU_HOT)
    # 80, then above 85 from t=101 on: held 2 s at t=103, one alert however long it lasts.
    ingest.write_samples(backend, bob, run_id, samples(100, [80, 90, 91, 92, 93]))
    ingest.write_samples(backend, bob, run_id, samples(105, [95, 96, 97]))
    assert outbox(backend) == [("email", "bob@example.org", "alert_threshold")]
    (alert,) = threshold_alerts(backend)
    assert alert.level == "WARN" and "gpu.*.temp > 85 for 2 s" in alert.text
    assert "gpu.0.temp was 92" in alert.text
    # Back below at t=108: a recovery, recorded, sent to nobody.
    ingest.write_samples(backend, bob, run_id, samples(108, [70, 71]))
    marks = alert_rules.list_alert_marks(backend, bob, run_id)
    assert [(m["kind"], m["t"], m["value"], m["rule_id"]) for m in marks] == [
        ("breach", 103.0, 92.0, rule["id"]),
        ("recovery", 108.0, 70.0, rule["id"]),
    ]
    assert len(outbox(backend)) == 1
    recovered = threshold_alerts(backend)[1]
    assert recovered.suppressed and "recovered" in recovered.title
    # The same batch again (a client resending) changes nothing.
    ingest.write_samples(backend, bob, run_id, samples(100, [80, 90, 91, 92, 93]))
    assert len(alert_rules.list_alert_marks(backend, bob, run_id)) == 2
    # A second streak long enough is a second breach; a short one is none.
    ingest.write_samples(backend, bob, run_id, samples(110, [99, 70, 99, 99, 99]))
    assert [m["kind"] for m in alert_rules.list_alert_marks(backend, bob, run_id)] == [
        "breach",
        "recovery",
        "breach",
    ]
    assert len(outbox(backend)) == 2


def test_patterns_match_whole_keys_and_each_series_has_its_own_state(backend, world) -> None:
    bob, run_id = world["bob"], world["run"]
    alert_rules.create_my_rule(backend, bob, {**GPU_HOT, "duration_s": 0})
    batch = [
        {"t": 1.0, "values": {"gpu.0.temp": 90.0, "gpu.1.temp": 50.0, "gpu.0.temperature": 99.0}},
        {"t": 2.0, "values": {"gpu.0.temp": 91.0, "gpu.1.temp": 90.0}},
    ]
    ingest.write_samples(backend, bob, run_id, batch)
    marks = alert_rules.list_alert_marks(backend, bob, run_id)
    assert [(m["key"], m["t"]) for m in marks] == [("gpu.0.temp", 1.0), ("gpu.1.temp", 2.0)]
    assert len(outbox(backend)) == 2


def test_a_team_rule_speaks_through_the_team_channels(backend, world) -> None:
    alice, bob, run_id = world["alice"], world["bob"], world["run"]
    team_settings.patch_settings(
        backend,
        alice,
        "acme",
        {"alerts": {"events": {"threshold": {"email": True}}, "email": "ops@example.org"}},
    )
    alert_rules.create_team_rule(
        backend, alice, "acme", {"key_pattern": "cpu", "comparison": "<", "value": 5}
    )
    ingest.write_samples(backend, bob, run_id, samples(1, [20]))
    assert outbox(backend) == [("email", "ops@example.org", "alert_threshold")]


def test_disabled_rules_and_other_peoples_rules_do_not_apply(backend, world) -> None:
    alice, bob, run_id = world["alice"], world["bob"], world["run"]
    mine = alert_rules.create_my_rule(backend, bob, {**GPU_HOT, "duration_s": 0})
    alert_rules.patch_my_rule(backend, bob, mine["id"], {"enabled": False})
    alert_rules.create_my_rule(backend, alice, {**GPU_HOT, "duration_s": 0})  # not alice's run
    ingest.write_samples(backend, bob, run_id, samples(1, [99, 99]))
    assert outbox(backend) == []
    with backend.db.reader() as session:
        assert len(list(session.scalars(select(AlertRule)))) == 2


def test_rules_cost_statements_only_where_one_can_apply(backend, world) -> None:
    """No rule: the write is the same statements as ever (test_ingest_statements:
    seven on SQLite, four on PostgreSQL). A rule that matches: the rules and
    their states read; a write only when a value crosses; never the stored points."""
    from test_ingest_statements import counting

    bob, run_id = world["bob"], world["run"]
    ingest.write_samples(backend, bob, run_id, samples(1, [50, 50]))
    with counting(backend.db.engine) as plain:
        ingest.write_samples(backend, bob, run_id, samples(3, [50, 50]))
    alert_rules.create_my_rule(backend, bob, GPU_HOT)
    with counting(backend.db.engine) as ruled:
        ingest.write_samples(backend, bob, run_id, samples(5, [50, 50]))
    assert len(plain) == (7 if backend.db.engine.dialect.name == "sqlite" else 4)
    extra = [s for s in ruled if s not in plain]
    assert [s.split(" ")[0] for s in extra] == ["SELECT", "SELECT"]
    assert all("metric_points" not in s for s in extra)
    with counting(backend.db.engine) as crossing:
        ingest.write_samples(backend, bob, run_id, samples(7, [90]))
    assert [s for s in crossing if s not in plain] == extra + ["INSERT INTO alert_rule_states"]


def test_the_readme_example_is_accepted_as_written(backend, world) -> None:
    """README.md's alert example: its JSON bodies, sent as the README sends them."""
    import json
    import re
    from pathlib import Path

    from labdeck.backend.services import alert_settings

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    calls = re.findall(r'curl -X (\w+) "\$API(/[\w/-]+)" -H "\$AUTH" -d \'(\{.*\})\'', readme)
    assert [(m, p) for m, p, _ in calls] == [("PUT", "/me/alerts"), ("POST", "/me/alert-rules")]
    bob = world["bob"]
    settings = alert_settings.put_alert_settings(backend, bob, json.loads(calls[0][2]))
    assert settings["events"]["idle"]["slack"] is True
    rule = alert_rules.create_my_rule(backend, bob, json.loads(calls[1][2]))
    assert rule["channels"] == ["email", "slack"] and rule["duration_s"] == 60
