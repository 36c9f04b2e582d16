"""`labdeck.monitor()` and `labdeck.alert()` against a real database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import labdeck
from labdeck.backend.alerting import AlertLevel
from labdeck.backend.context import Backend
from labdeck.backend.errors import Forbidden, Invalid
from labdeck.backend.models import Alert, Notification, Run
from labdeck.backend.services import identity, projects, runs, teams

# The kernel's user: the OS account it runs as (F-ID-1), whatever the
# environment says.
OWNER = identity.server_owner()

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
    assert run.project == f"{OWNER}/exp"
    # The first sample is taken at once: a short block still records something.
    assert len(first["series"]["proc.memory.rssMB"]["t"]) >= 1
    history = run.history()
    assert PSUTIL_KEYS <= set(history["series"])
    assert any(k.startswith("cpu.") and k.endswith(".cpu_percent") for k in history["series"])
    assert len(history["series"]["cpu"]["t"]) >= 4
    series = history["series"]["proc.memory.rssMB"]
    assert len(series["t"]) == len(series["v"]) and series["v"][0] > 1


def test_exception_ends_the_run_crashed_and_propagates(kernel_db):
    identity.create_user(Backend.open(kernel_db), OWNER, email="kim@example.org")
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
    kim = identity.create_user(backend, OWNER, email="kim@example.org")
    teams.create_team(backend, boss, "vision", "work", "acme")
    projects.create_project(backend, boss, "vision", "shared", "team")
    from labdeck.backend.services import members

    members.add_member(backend, boss, "vision", OWNER, "view_only")
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


def test_alert_level_is_passed_to_the_service_in_any_case(kernel_db):
    """`level="warn"` means WARN, as over REST; a word the service does not
    know ("warning") is its `Invalid`, naming the levels, and records nothing."""
    labdeck.alert("a", level="warn")
    labdeck.alert("b", level="Warn")
    labdeck.alert("c", level=AlertLevel.WARN)
    labdeck.alert("d", level="error")
    with pytest.raises(Invalid, match="INFO, WARN, ERROR"):
        labdeck.alert("e", level="warning")
    backend = Backend.open(kernel_db)
    with backend.db.reader() as session:
        rows = session.execute(select(Alert.title, Alert.level).order_by(Alert.id)).all()
    assert [tuple(r) for r in rows] == [("a", "WARN"), ("b", "WARN"), ("c", "WARN"), ("d", "ERROR")]


def test_run_stop_from_the_server_side_is_seen_by_the_recorder(kernel_db):
    monitor = labdeck.monitor(project="exp", interval=0.1)
    run = monitor.start()
    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, OWNER)
    runs.stop_run(backend, kim, run.id)
    time.sleep(0.5)
    monitor.stop()
    assert run.state == "finished"


@pytest.fixture
def exporter_url():
    """A real HTTP exporter of a prometheus_client registry on 127.0.0.1."""
    import http.server
    import threading

    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    Gauge("queue_depth", "jobs waiting", registry=registry).set(7)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def test_monitor_takes_openmetrics_endpoints_and_one_disk_path(kernel_db, exporter_url):
    """`openmetrics=` adds endpoints (not only by environment); `disk="/tmp"` is
    one path, not the characters of one."""
    with labdeck.monitor(
        project="exp", interval=0.2, disk="/tmp", openmetrics={"app": exporter_url}
    ) as run:
        time.sleep(0.6)
    series = run.history()["series"]
    assert series["openmetrics.app.queue_depth"]["v"][-1] == 7.0
    assert "disk./tmp.usagePercent" in series
    assert not any(key.startswith("disk./.") for key in series)


def test_a_one_second_block_has_two_points_of_every_key(kernel_db):
    """The baseline at start, a full sample <= 0.5 s later and the closing one:
    every key twice, rates included, under the default 10 s interval."""
    with labdeck.monitor(project="exp") as run:
        time.sleep(1.0)
    series = run.history()["series"]
    assert PSUTIL_KEYS <= set(series)
    short = {key: len(s["t"]) for key, s in series.items() if len(s["t"]) < 2}
    assert short == {}
