"""Storage I/O happens outside database transactions, with a deadline
(issue 10, item 7): a connector host that never answers holds no database
lock, so other teams keep writing meanwhile; the upload or the check gives
up after `storage_timeout`; files are written before their rows are
committed and removed when the commit fails.

The remote host is a real listener on 127.0.0.1 that accepts and never
says a word; the operator (these tests' settings) allows `ftp` so that the
server dials it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_tcp import FakeHost, fake_host
from races import contenders
from seed import add_team
from sqlalchemy import func, select

from labdeck.backend import storage, storage_audit
from labdeck.backend.context import Actor, Backend, Settings
from labdeck.backend.errors import Invalid, TooLarge, Unavailable
from labdeck.backend.models import ArtifactVersion, Team
from labdeck.backend.services import artifacts, ingest, projects, runs, team_settings, teams


@pytest.fixture
def silent(settings: Settings) -> Iterator[FakeHost]:
    settings.storage_schemes = frozenset(settings.storage_schemes) | {"ftp"}
    settings.storage_timeout = 1.0
    with fake_host(None) as host:
        yield host


@pytest.fixture
def world(backend: Backend, make_user: Callable[..., Actor]) -> dict[str, Any]:
    """Team `lab` (root admins it) and, elsewhere, kim writing into her own run."""
    root, kim = make_user("root", admin=True), make_user("kim")
    teams.create_team(backend, root, "lab", "work", "acme")
    projects.create_project(backend, root, "lab", "p")
    projects.create_project(backend, kim, "kim", "mine")
    run_id = runs.create_run(backend, kim, "kim", "mine")["id"]
    return {"root": root, "kim": kim, "run": run_id}


def while_running(slow: Callable[[], Any], meanwhile: Callable[[], Any]) -> tuple[Any, float]:
    """Start `slow` in a thread; once it is under way, time `meanwhile`.
    Returns what `slow` raised (or returned) and how long `meanwhile` took."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(slow())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    began = time.monotonic()
    meanwhile()
    took = time.monotonic() - began
    thread.join(120)
    return outcome[0], took


def test_checking_a_silent_connector_holds_no_database_lock(
    backend: Backend, world: dict[str, Any], silent: FakeHost
) -> None:
    url = f"ftp://127.0.0.1:{silent.port}/store"
    began = time.monotonic()
    result, took = while_running(
        lambda: team_settings.patch_settings(backend, world["root"], "lab", {"storage_url": url}),
        lambda: ingest.write_samples(
            backend, world["kim"], world["run"], [{"t": 1.0, "values": {"cpu": 1.0}}]
        ),
    )
    assert isinstance(result, Invalid) and "did not answer" in result.message
    assert time.monotonic() - began < 10, "the check outlived its deadline"
    assert took < 0.9, f"another user's write waited {took:.1f} s"
    assert silent.dialed >= 1


def test_an_upload_to_a_silent_store_gives_up_and_holds_no_lock(
    backend: Backend, world: dict[str, Any], silent: FakeHost
) -> None:
    with backend.db.transaction() as session:
        session.scalars(select(Team)).one().storage_url = f"ftp://127.0.0.1:{silent.port}/s"
    began = time.monotonic()
    result, took = while_running(
        lambda: artifacts.create_artifact(
            backend, world["root"], "lab", "p", {"name": "m", "type": "model"}, [("w", b"w")]
        ),
        lambda: ingest.write_samples(
            backend, world["kim"], world["run"], [{"t": 2.0, "values": {"cpu": 2.0}}]
        ),
    )
    assert isinstance(result, Unavailable), result
    assert time.monotonic() - began < 10, "the upload outlived its deadline"
    assert took < 0.9, f"another user's write waited {took:.1f} s"
    with backend.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(ArtifactVersion)) == 0


def test_files_of_an_upload_whose_commit_fails_are_removed(
    backend: Backend, make_user: Callable[..., Actor], settings: Settings
) -> None:
    """Two uploads race for the room of one: the files are written first,
    the loser's commit is refused (quota), and its files go again."""
    store = Path(settings.storage_url.removeprefix("file://"))
    rounds, lost = 10, 0
    upload = [("w.bin", b"w" * 100)]
    with contenders(backend, 2) as pool:
        for r in range(rounds):
            admin = make_user(f"a{r}")
            add_team(backend, f"race-{r}", {admin: "admin"}, storage_quota_bytes=150)
            projects.create_project(backend, admin, f"race-{r}", "p")
            outcomes = pool.run(
                [
                    lambda bk, r=r, a=admin: artifacts.create_artifact(
                        bk, a, f"race-{r}", "p", {"name": "m", "type": "model"}, upload
                    )
                ]
                * 2
            )
            assert sorted(o.ok for o in outcomes) == [False, True], outcomes
            assert all(isinstance(o.error, TooLarge) for o in outcomes if not o.ok)
            lost += 1
    assert storage_audit.orphans(backend) == []
    assert len([p for p in store.rglob("*") if p.is_file()]) == rounds == lost


def test_storage_calls_have_a_deadline() -> None:
    began = time.monotonic()
    with pytest.raises(storage.StorageTimeout):
        storage.with_deadline(lambda: time.sleep(5), 0.5)
    assert time.monotonic() - began < 2
