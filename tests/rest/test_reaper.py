"""The extension's heartbeat reaper: a running run whose heartbeat goes stale
(its kernel died) turns `crashed` once, and the crash alert is sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

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
