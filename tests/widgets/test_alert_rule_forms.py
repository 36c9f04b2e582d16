"""The threshold-rule forms (F-SM-11, F-UI-4) and the marks a breach and its
recovery leave on a stored run's chart."""

from __future__ import annotations

from sqlalchemy import select

from labdeck.backend.models import Base
from labdeck.backend.services import alert_rules, identity, ingest, members, projects, runs, teams
from labdeck.widgets.forms import AlertRulesForm, TeamAlertRulesForm
from labdeck.widgets.history import chart


def snapshot(backend):
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


def test_my_rules_form_adds_refuses_switches_and_deletes(backend, make_user):
    alice = make_user("alice")
    form = AlertRulesForm(backend, alice)
    editor = form.editor
    editor.key_pattern.value = "gpu.*.temp"
    editor.value.value = 85
    editor.duration_s.value = 60
    editor.add.click()
    (rule,) = alert_rules.list_my_rules(backend, alice)
    assert (rule["key_pattern"], rule["value"], rule["duration_s"]) == ("gpu.*.temp", 85, 60)
    assert rule["channels"] == ["email"] and form.status.value == "Rule added."
    before = snapshot(backend)
    editor.key_pattern.value = "gpu temp"
    editor.add.click()
    assert "key_pattern" in form.errors["key_pattern"].value
    editor.key_pattern.value = "cpu"
    editor.channels["email"].value = False
    editor.add.click()
    assert "channels" in form.errors["channels"].value
    assert snapshot(backend) == before, "a refused rule changes nothing"
    editor.rows[rule["id"]]["switch"].click()
    assert alert_rules.list_my_rules(backend, alice)[0]["enabled"] is False
    editor.rows[rule["id"]]["delete"].click()
    assert alert_rules.list_my_rules(backend, alice) == []


def test_team_rules_form_for_admins(backend, make_user):
    root, bob = make_user("root", admin=True), make_user("bob")
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "bob", "member")
    form = TeamAlertRulesForm(backend, root, "vision")
    form.editor.key_pattern.value = "proc.memory.percent"
    form.editor.channels["slack"].value = True
    form.editor.add.click()
    (rule,) = alert_rules.list_team_rules(backend, root, "vision")
    assert rule["channels"] == ["email", "slack"] and rule["team"] == "vision"
    refused = TeamAlertRulesForm(backend, bob, "vision")
    refused.editor.key_pattern.value = "cpu"
    refused.editor.add.click()
    assert "manage team alert rules" in refused.error.value
    assert len(alert_rules.list_team_rules(backend, root, "vision")) == 1


def test_a_breach_and_its_recovery_are_marks_on_the_runs_chart(backend):
    me = identity.process_actor(backend)  # the notebook's own account, as chart() uses
    project = projects.ensure_project(backend, me, "p")
    run_id = runs.create_run(backend, me, project["entity"], "p")["id"]
    alert_rules.create_my_rule(backend, me, {"key_pattern": "cpu", "comparison": ">", "value": 50})
    batch = [{"t": 100.0 + i, "values": {"cpu": v}} for i, v in enumerate([10, 60, 70, 20])]
    ingest.write_samples(backend, me, run_id, batch)
    figure = chart(run_id, backend=backend)
    # On every panel, at the time elapsed since the run's first sample (t=100).
    panel = figure.figures[0]
    lines = [s for s in panel.layout.shapes if s.type == "line"]
    assert [(s.name, s.x0) for s in lines] == [("alert-breach", 1000), ("alert-recovery", 3000)]
    texts = [a.text for a in panel.layout.annotations]
    assert "▲ cpu 60" in texts and "▼ cpu 20" in texts
