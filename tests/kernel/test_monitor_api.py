"""`labdeck.monitor()` and `labdeck.alert()` against a real database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import labdeck
from labdeck.backend.context import Backend
from labdeck.backend.errors import Forbidden
from labdeck.backend.models import Alert, Notification, Run
from labdeck.backend.services import identity, projects, runs, teams

PSUTIL_KEYS = {
    "cpu",
    "proc.cpu.threads",
    "disk./.usagePercent",
    "disk./.usageGB",
    "disk.in",
    "disk.out",
    "proc.memory.rssMB",
    "proc.memory.percent",
    "memory",
    "proc.memory.availableMB",
    "network.sent",
    "network.recv",
}


def test_monitor_records_a_finished_run_with_the_psutil_keys(kernel_db):
    with labdeck.monitor(project="exp", interval=0.1, config={"lr": 0.1}) as run:
        first = run.history()
        time.sleep(0.5)
    assert run.state == "finished"
    assert run.project == "kim/exp"
    # The first sample is taken at once: a short block still records something.
    assert len(first["series"]["proc.memory.rssMB"]["t"]) >= 1
    history = run.history()
    assert PSUTIL_KEYS <= set(history["series"])
    assert any(k.startswith("cpu.") and k.endswith(".cpu_percent") for k in history["series"])
    assert len(history["series"]["cpu"]["t"]) >= 4
    series = history["series"]["proc.memory.rssMB"]
    assert len(series["t"]) == len(series["v"]) and series["v"][0] > 1


def test_exception_ends_the_run_crashed_and_propagates(kernel_db):
    identity.create_user(Backend.open(kernel_db), "kim", email="kim@example.org")
    holder = {}
    with pytest.raises(ZeroDivisionError):
        with labdeck.monitor(project="exp", interval=0.1) as run:
            holder["run"] = run
            raise ZeroDivisionError("boom")
    assert holder["run"].state == "crashed"
    backend = Backend.open(kernel_db)
    with backend.db.reader() as session:
        alerts = session.scalars(select(Alert.event)).all()
        mail = session.scalars(select(Notification.recipient)).all()
    assert "run_crashed" in alerts
    assert mail == ["kim@example.org"], "the crash alert went to the outbox"


def test_view_only_member_cannot_log_to_a_team_project(kernel_db):
    backend = Backend.open(kernel_db)
    boss = identity.create_user(backend, "boss", admin=True, email="boss@example.org")
    kim = identity.create_user(backend, "kim", email="kim@example.org")
    teams.create_team(backend, boss, "vision", "work", "acme")
    projects.create_project(backend, boss, "vision", "shared", "team")
    from labdeck.backend.services import members

    members.add_member(backend, boss, "vision", "kim", "view_only")
    with pytest.raises(Forbidden):
        labdeck.monitor(project="vision/shared", interval=0.1).start()
    with backend.db.reader() as session:
        assert session.scalars(select(Run)).all() == []
    assert kim is not None


def test_alert_suppresses_repeats_inside_wait_duration(kernel_db):
    first = labdeck.alert("loss is nan", "epoch 3", "ERROR", wait_duration=300)
    second = labdeck.alert("loss is nan", "epoch 4", "ERROR", wait_duration=300)
    other = labdeck.alert("done", "", "INFO")
    assert not first["suppressed"] and second["suppressed"] and not other["suppressed"]


def test_run_stop_from_the_server_side_is_seen_by_the_recorder(kernel_db):
    monitor = labdeck.monitor(project="exp", interval=0.1)
    run = monitor.start()
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, "kim")
    runs.stop_run(backend, kim, run.id)
    time.sleep(0.5)
    monitor.stop()
    assert run.state == "finished"
