"""Storage used against quota: what counts for a user and for a team, who may
see a team's figure, and the store connector check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from labdeck.backend import storage
from labdeck.backend.context import Backend, Settings
from labdeck.backend.errors import Forbidden, Invalid, NotFound
from labdeck.backend.models import Team, User
from labdeck.backend.services import artifacts, ingest, projects, runs, usage


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Any]:
    people = acme
    projects.create_project(backend, people["alice"], "acme", "vision")
    projects.create_project(backend, people["bob"], "bob", "mine")
    return people


def points(count: int) -> list[dict[str, Any]]:
    return [{"t": float(i), "values": {"a": 1.0, "b": 2.0}} for i in range(count)]


def test_empty_accounts(backend: Backend, world: dict[str, Any], settings: Any) -> None:
    assert usage.get_user_storage(backend, world["bob"]) == {
        "used_bytes": 0,
        "quota_bytes": settings.user_quota_bytes,
        "percent": 0.0,
    }
    assert usage.get_team_storage(backend, world["alice"], "acme")["used_bytes"] == 0


def test_what_counts(backend: Backend, world: dict[str, Any], settings: Any) -> None:
    settings.user_quota_bytes = 10_000
    settings.team_quota_bytes = 20_000
    bob = world["bob"]
    artifacts.create_artifact(
        backend, bob, "bob", "mine", {"name": "d", "type": "t"}, [("f", b"x" * 100)]
    )
    artifacts.create_artifact(
        backend, bob, "acme", "vision", {"name": "d", "type": "t"}, [("f", b"x" * 1000)]
    )
    personal = runs.create_run(backend, bob, "bob", "mine")["id"]
    team_run = runs.create_run(backend, bob, "acme", "vision")["id"]
    ingest.write_samples(backend, bob, personal, points(10))  # 20 points
    ingest.write_samples(backend, bob, team_run, points(5))  # 10 points
    mine = usage.get_user_storage(backend, bob)
    # personal artifacts + every run bob created
    assert mine == {"used_bytes": 100 + 24 * 30, "quota_bytes": 10_000, "percent": 8.2}
    team = usage.get_team_storage(backend, world["alice"], "acme")
    assert team == {"used_bytes": 1000 + 24 * 10, "quota_bytes": 20_000, "percent": 6.2}


def test_per_account_quota_overrides(backend: Backend, world: dict[str, Any]) -> None:
    with backend.db.transaction() as s:
        s.execute(
            update(User).where(User.id == world["bob"].user_id).values(storage_quota_bytes=500)
        )
        s.execute(update(Team).values(storage_quota_bytes=7_000))
    assert usage.get_user_storage(backend, world["bob"])["quota_bytes"] == 500
    assert usage.get_team_storage(backend, world["alice"], "acme")["quota_bytes"] == 7_000


def test_team_figure_is_for_admins(backend: Backend, world: dict[str, Any]) -> None:
    for who in ("bob", "vera"):
        with pytest.raises(Forbidden, match="view team settings"):
            usage.get_team_storage(backend, world[who], "acme")
    for team in ("acme", "nosuch"):
        with pytest.raises(NotFound):
            usage.get_team_storage(backend, world["olga"], team)


def test_human_sizes() -> None:
    assert storage.human_bytes(999) == "999 B"
    assert storage.human_bytes(1_500) == "1.5 kB"
    assert storage.human_bytes(100 * 10**9) == "100.0 GB"
    assert storage.human_bytes(5 * 10**15) == "5000.0 TB"


def test_check_writable(tmp_path: Path) -> None:
    settings = Settings(storage_roots=(str(tmp_path),))
    good = tmp_path / "bucket"
    good.mkdir()
    assert storage.check_writable(settings, good.as_uri() + "/") == good.as_uri()
    assert list(good.iterdir()) == []  # the probe is removed again
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    for url in (blocker.as_uri() + "/sub", "nosuchproto://x/y", "plain/path", "", 5):
        with pytest.raises(Invalid) as err:
            storage.check_writable(settings, url)
        assert err.value.field == "storage_url"
