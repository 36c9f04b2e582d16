"""A quota an admin sets is the quota enforced, 0 included (F-US-7, F-TS-5):
0 means "nothing more may be stored", not "the default"."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import TooLarge
from labdeck.backend.services import artifacts, ingest, projects, runs, system, teams, usage


def test_a_team_quota_of_zero_refuses_every_write(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root = make_user("root", admin=True)
    teams.create_team(backend, root, "frozen", "work", "acme")
    projects.create_project(backend, root, "frozen", "p")
    run_id = runs.create_run(backend, root, "frozen", "p")["id"]
    answer = system.set_storage_quota(backend, root, "team", "frozen", 0)
    assert answer["quota_bytes"] == 0
    assert usage.get_team_storage(backend, root, "frozen")["quota_bytes"] == 0
    with pytest.raises(TooLarge):
        ingest.write_samples(backend, root, run_id, [{"t": 1.0, "values": {"cpu": 1.0}}])
    with pytest.raises(TooLarge):
        artifacts.create_artifact(
            backend, root, "frozen", "p", {"name": "m", "type": "model"}, [("a.bin", b"x")]
        )
    assert usage.get_team_storage(backend, root, "frozen")["used_bytes"] == 0


def test_a_user_quota_of_zero_refuses_every_write(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root, kim = make_user("root", admin=True), make_user("kim")
    projects.create_project(backend, kim, "kim", "p")
    run_id = runs.create_run(backend, kim, "kim", "p")["id"]
    system.set_storage_quota(backend, root, "user", "kim", 0)
    assert usage.get_user_storage(backend, kim)["quota_bytes"] == 0
    with pytest.raises(TooLarge):
        ingest.write_samples(backend, kim, run_id, [{"t": 1.0, "values": {"cpu": 1.0}}])
    with pytest.raises(TooLarge):
        artifacts.create_artifact(
            backend, kim, "kim", "p", {"name": "m", "type": "model"}, [("a.bin", b"x")]
        )
    # Back to the default, the same write fits.
    system.set_storage_quota(backend, root, "user", "kim", None)
    assert ingest.write_samples(backend, kim, run_id, [{"t": 1.0, "values": {"cpu": 1.0}}]) == {
        "written": 1,
        "duplicates": 0,
    }
