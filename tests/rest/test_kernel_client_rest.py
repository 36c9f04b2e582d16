"""A kernel in client mode, end to end against a real jupyter_server with the
labdeck extension: `labdeck.client.rest.RestClient` (what `labdeck.client.mode`
gives a kernel with `LABDECK_SERVICE_URL`) drives a run's whole life over the
REST API, and the server's database is read for what was stored.

The client blocks (urllib) and the server runs on the test's event loop, so
every client call runs in a thread (`asyncio.to_thread`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from labdeck.backend.context import Backend
from labdeck.backend.errors import Conflict, Invalid, NotFound, Unauthenticated
from labdeck.backend.services import apikeys, identity, metrics, runs
from labdeck.client.rest import RestClient
from labdeck.kernel.session import Monitor


@pytest.fixture
def service_url(
    jp_fetch: Any, jp_http_port: int, jp_base_url: str, labdeck_backend: Backend
) -> str:
    # jp_fetch: the fixture that puts the server on its port.
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


async def test_a_runs_life_over_rest(service_url: str, backend: Backend) -> None:
    alice = identity.create_user(backend, "alice")
    key = apikeys.create_key(backend, alice, "kernel")["secret"]
    client = RestClient(service_url, f"Bearer {key}", timeout=60)

    def life() -> dict[str, Any]:
        project = client.ensure_project("exp")
        assert (project["entity"], project["name"]) == ("alice", "exp")
        assert client.ensure_project("alice/exp")["id"] == project["id"]
        run = client.create_run("alice", "exp", name="k", system={"interval": 1.0})
        marker = client.add_marker(run["id"], 3, "import torch\nmore", 10.0)
        assert (marker["execution_count"], marker["first_line"]) == (3, "import torch")
        assert client.end_marker(run["id"], marker["id"], 12.5, True)["end_t"] == 12.5
        batch = [{"t": float(t), "values": {"cpu": 1.0 * t, "ram": 2.0}} for t in range(5)]
        assert client.write_samples(run["id"], batch) == {"written": 10, "duplicates": 0}
        assert client.write_samples(run["id"], batch) == {"written": 0, "duplicates": 10}
        client.heartbeat(run["id"])
        series = client.read_series(run["id"], keys=["cpu"])["series"]
        assert list(series) == ["cpu"] and series["cpu"]["t"] == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert [m["id"] for m in client.list_markers(run["id"])] == [marker["id"]]
        assert [r["id"] for r in client.list_runs("alice", "exp")["items"]] == [run["id"]]
        ended = client.end_run(run["id"], "crashed", dropped_samples=3)
        assert ended["state"] == "crashed" and ended["system"]["dropped_samples"] == 3
        with pytest.raises(Conflict):
            client.end_run(run["id"], "finished")
        with pytest.raises(Conflict):
            client.heartbeat(run["id"])
        with pytest.raises(Invalid, match="only a service account may attribute a run"):
            client.create_run("alice", "exp", attribute_to="bob")
        with pytest.raises(NotFound):
            client.get_run("nosuchrun")
        return run

    run = await asyncio.to_thread(life)
    stored = runs.get_run(backend, alice, run["id"])
    assert stored["state"] == "crashed" and stored["system"]["dropped_samples"] == 3
    assert len(metrics.read_series(backend, alice, run["id"])["series"]["ram"]["t"]) == 5


async def test_a_revoked_key_is_refused_not_replaced(service_url: str, backend: Backend) -> None:
    bob = identity.create_user(backend, "bob")
    made = apikeys.create_key(backend, bob, "kernel")
    apikeys.revoke_key(backend, bob, made["id"])
    client = RestClient(service_url, f"Bearer {made['secret']}", timeout=60)
    with pytest.raises(Unauthenticated):
        await asyncio.to_thread(client.profile)


async def test_a_monitor_samples_and_records_over_rest(service_url: str, backend: Backend) -> None:
    kim = identity.create_user(backend, "kim")
    key = apikeys.create_key(backend, kim, "kernel")["secret"]
    client = RestClient(service_url, f"Bearer {key}", timeout=60)
    taken: list[float] = []

    def record() -> str:
        monitor = Monitor("over-rest", interval=0.2, client=client)
        monitor.settings.flush_interval = 0.3
        monitor.add_sink(lambda t, values: taken.append(t) if "cpu" in values else None)
        with monitor as run:
            time.sleep(1.5)
        assert monitor.recorder is not None and monitor.recorder.dropped == 0
        return run.id

    run_id = await asyncio.to_thread(record)
    run = runs.get_run(backend, kim, run_id)
    assert run["state"] == "finished" and run["created_by"] == "kim"
    assert run["system"]["dropped_samples"] == 0
    stored = metrics.read_series(backend, kim, run_id, keys=["cpu"])["series"]["cpu"]["t"]
    assert len(taken) >= 3 and stored == pytest.approx(sorted(taken))


async def test_runs_chart_and_settings_read_through_the_service(
    service_url: str, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LABDECK_SERVICE_URL set, `labdeck.runs()`, `labdeck.chart()` and
    `labdeck.settings()` read over REST; the database URL in the environment
    (a wrong one here) is never opened."""
    from labdeck.client import mode
    from labdeck.widgets.history import chart
    from labdeck.widgets.history import runs as list_runs
    from labdeck.widgets.settings import settings

    ada = identity.create_user(backend, "ada")
    key = apikeys.create_key(backend, ada, "kernel")["secret"]
    monkeypatch.setenv("LABDECK_SERVICE_URL", service_url)
    monkeypatch.setenv("LABDECK_API_KEY", key)
    monkeypatch.setenv("LABDECK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    mode.forget()
    client = mode.client()
    assert client.mode == "service"

    def read() -> tuple[Any, Any, Any]:
        run = client.create_run(
            client.ensure_project("seen")["entity"], "seen", name="one", system={}
        )
        client.write_samples(run["id"], [{"t": 1.0, "values": {"cpu": 5.0}}])
        client.end_run(run["id"], "finished")
        return list_runs("seen"), chart(run["id"]), settings()

    table, figure, shown = await asyncio.to_thread(read)
    mode.forget()
    assert [r["name"] for r in table] == ["one"]
    assert any(list(trace.y) == [5.0] for trace in figure.data)
    assert "read-only" in shown.value and "ada" in shown.value


async def test_ledger_and_saved_code_through_the_rest_client(
    service_url: str, backend: Backend
) -> None:
    """What a kernel in client mode sends (docs/hub.md): a marker's end with
    its ledger figures, its cell's source; read back as the ledger and code."""
    alice = identity.create_user(backend, "alice")
    key = apikeys.create_key(backend, alice, "kernel")["secret"]
    client = RestClient(service_url, f"Bearer {key}", timeout=60)
    usage = {"cpu_seconds": 2.0, "rss_peak_bytes": 2**30, "rss_delta_bytes": -1, "gpus": []}

    def life() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        client.ensure_project("exp")
        run = client.create_run("alice", "exp", save_code=True)
        marker = client.add_marker(run["id"], 1, "burn()", 10.0)
        client.end_marker(run["id"], marker["id"], 12.0, usage=usage)
        client.save_code(run["id"], "cell", "In [1]", "burn()\n", marker["id"])
        quiet = client.create_run("alice", "exp", save_code=False)
        with pytest.raises(Conflict):
            client.save_code(quiet["id"], "cell", "In [1]", "x")
        return (
            client.list_cells(run["id"]),
            client.list_code(run["id"]),
            client.list_code(quiet["id"]),
        )

    cells, saved, unsaved = await asyncio.to_thread(life)
    assert [(c["cpu_seconds"], c["rss_peak_bytes"], c["duration_s"]) for c in cells] == [
        (2.0, 2**30, 2.0)
    ]
    assert [(f["name"], f["execution_count"], f["text"]) for f in saved["files"]] == [
        ("In [1]", 1, "burn()\n")
    ]
    assert unsaved == {"code_saving": False, "files": []}
