"""The extension's heartbeat reaper: a running run whose heartbeat goes stale
(its kernel died) turns `crashed` once, and the crash alert is sent."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from tornado.httpclient import HTTPClientError

from labdeck.backend.models import Alert, Notification


@pytest.fixture
def jp_server_config(database_url: str, settings: Any) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labdeck": True}},
        "LabdeckApp": {
            "database_url": database_url,
            "storage_url": settings.storage_url,
            "heartbeat_staleness": 1.0,
            "reaper_interval": 0.25,
            "kernel_writes_in_flight": 48,
        },
    }


async def test_stale_run_is_marked_crashed_once_and_alerted(api_as, make_user, backend):
    kim = make_user("kim", email="kim@example.org")
    api = api_as(kim)
    assert (await api("POST", "/projects/kim", {"name": "p", "visibility": "private"}))[0] == 201
    code, run = await api("POST", "/projects/kim/p/runs", {"name": "doomed"})
    assert code == 201 and run["state"] == "running"
    code, live = await api("POST", "/projects/kim/p/runs", {"name": "alive"})
    for _ in range(16):
        await asyncio.sleep(0.25)
        # The live run keeps beating through its metric writes.
        await api("POST", f"/runs/{live['id']}/metrics", {"samples": [{"t": 1.0, "values": {}}]})
    code, body = await api("GET", f"/runs/{run['id']}")
    assert body["state"] == "crashed" and body["ended_at"] is not None
    assert (await api("GET", f"/runs/{live['id']}"))[1]["state"] == "running"
    with backend.db.reader() as session:
        crashes = session.scalars(select(Alert.run_id).where(Alert.event == "run_crashed")).all()
        mail = session.scalars(
            select(Notification.recipient).where(Notification.kind == "alert_run_crashed")
        ).all()
    assert crashes == [run["id"]]
    assert mail == ["kim@example.org"]


def _arrivals(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["labdeck_arrivals"]


async def _state(api: Any, run_id: str) -> str:
    state: str = (await api("GET", f"/runs/{run_id}"))[1]["state"]
    return state


async def _wait_state(api: Any, run_id: str, wanted: str, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while await _state(api, run_id) != wanted:
        assert asyncio.get_running_loop().time() < deadline, f"run never became {wanted}"
        await asyncio.sleep(0.1)


async def test_a_run_with_a_kernel_write_in_flight_is_not_reaped(api_as, make_user, jp_serverapp):
    """Issue 9: under overload a batch waits in the service's queue past the
    staleness; the reaper judges by what has arrived, not the stored beat."""
    kim = make_user("kim")
    api = api_as(kim)
    await api("POST", "/projects/kim", {"name": "p", "visibility": "private"})
    _, busy = await api("POST", "/projects/kim/p/runs", {"name": "queued"})
    _, idle = await api("POST", "/projects/kim/p/runs", {"name": "silent"})
    arrivals = _arrivals(jp_serverapp)
    with arrivals.admit(busy["id"]):  # the batch has arrived and waits for a thread
        await _wait_state(api, idle["id"], "crashed")
        await asyncio.sleep(1.5)  # several sweeps past the 1 s staleness
        assert await _state(api, busy["id"]) == "running"
    await _wait_state(api, busy["id"], "crashed")  # nothing more arrives: reaped


async def test_a_batch_newer_than_the_reap_revives_the_run(api_as, make_user):
    """A run reaped while its kernel was alive (its points are newer than the
    reap) takes the batch rather than 409: no point is lost. An older batch
    (a resend of what came before the end) is still refused."""
    kim = make_user("kim")
    api = api_as(kim)
    await api("POST", "/projects/kim", {"name": "p", "visibility": "private"})
    _, run = await api("POST", "/projects/kim/p/runs", {"name": "slow"})
    await _wait_state(api, run["id"], "crashed")
    _, reaped = await api("GET", f"/runs/{run['id']}")
    ended = dt.datetime.fromisoformat(reaped["ended_at"]).timestamp()
    code, body = await api(
        "POST", f"/runs/{run['id']}/metrics", {"samples": [{"t": ended - 10, "values": {"a": 1}}]}
    )
    assert code == 409
    newer = {
        "samples": [{"t": ended - 5, "values": {"a": 1}}, {"t": ended + 5, "values": {"a": 2}}]
    }
    code, body = await api("POST", f"/runs/{run['id']}/metrics", newer)
    assert code == 200 and body == {"written": 2, "duplicates": 0}
    _, revived = await api("GET", f"/runs/{run['id']}")
    assert revived["state"] == "running" and revived["ended_at"] is None
    _, series = await api("GET", f"/runs/{run['id']}/metrics")
    assert json.dumps(series).count('"a"') >= 1
    code, body = await api("POST", f"/runs/{run['id']}/end", {"state": "finished"})
    assert code == 200 and body["state"] == "finished"


async def test_too_many_kernel_writes_in_flight_answer_503_with_retry_after(
    api_as, make_user, jp_serverapp, jp_fetch
):
    kim = make_user("kim")
    api = api_as(kim)
    await api("POST", "/projects/kim", {"name": "p", "visibility": "private"})
    _, run = await api("POST", "/projects/kim/p/runs", {"name": "busy"})
    arrivals = _arrivals(jp_serverapp)
    batch = {"samples": [{"t": 1.0, "values": {"a": 1}}]}
    limit = arrivals.limit
    assert limit == 48  # the operator's `kernel_writes_in_flight`
    arrivals.limit = 1
    try:
        with arrivals.admit("someone-else"):
            try:
                await jp_fetch(
                    "labdeck", "api", "runs", run["id"], "metrics", method="POST",
                    body=json.dumps(batch), headers={"Authorization": f"Bearer {api.key}"},
                )  # fmt: skip
                raise AssertionError("the write was not refused")
            except HTTPClientError as err:
                assert err.code == 503 and err.response is not None
                assert int(err.response.headers["Retry-After"]) >= 1
            assert (await api("GET", f"/runs/{run['id']}"))[0] == 200  # reads are not bounded
        assert (await api("POST", f"/runs/{run['id']}/metrics", batch))[0] == 200
    finally:
        arrivals.limit = limit
    assert arrivals.in_flight == 0


async def test_a_kernel_pushed_back_past_the_staleness_is_not_reaped(
    api_as, make_user, jp_serverapp, backend
):
    """Issue 9: a kernel whose writes are refused for load (503) for longer
    than the staleness window is alive and retrying: no false "crashed".
    Only the run's own logger knocking counts; another account posting into
    the run does not keep it alive, and once its kernel stops knocking the
    run is reaped one window later."""
    kim, eve = make_user("kim"), make_user("eve")
    api, eve_api = api_as(kim), api_as(eve)
    code, body = await api("POST", "/projects/kim", {"name": "p", "visibility": "private"})
    assert code == 201, body
    code, knocking = await api("POST", "/projects/kim/p/runs", {"name": "pushed-back"})
    assert code == 201, knocking
    _, silent = await api("POST", "/projects/kim/p/runs", {"name": "silent"})
    _, spoofed = await api("POST", "/projects/kim/p/runs", {"name": "someone-else-knocks"})
    arrivals = _arrivals(jp_serverapp)
    batch = {"samples": [{"t": 1.0, "values": {"a": 1}}]}
    limit = arrivals.limit
    arrivals.limit = 1
    codes = set()
    try:
        with arrivals.admit("another-kernel"):  # the service is saturated
            loop = asyncio.get_running_loop()
            until = loop.time() + 3.0  # three staleness windows of 1 s
            while loop.time() < until:
                codes.add((await api("POST", f"/runs/{knocking['id']}/metrics", batch))[0])
                codes.add((await eve_api("POST", f"/runs/{spoofed['id']}/metrics", batch))[0])
                await asyncio.sleep(0.25)
            assert codes == {503}
            assert await _state(api, silent["id"]) == "crashed"
            assert await _state(api, spoofed["id"]) == "crashed"
            assert await _state(api, knocking["id"]) == "running"
    finally:
        arrivals.limit = limit
    with backend.db.reader() as session:
        crashes = set(session.scalars(select(Alert.run_id).where(Alert.event == "run_crashed")))
    assert knocking["id"] not in crashes
    await _wait_state(api, knocking["id"], "crashed")  # it stopped knocking: reaped
