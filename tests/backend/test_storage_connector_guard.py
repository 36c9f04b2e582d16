"""A team's storage connector (F-TS-6) is dialed by the server, so the
operator bounds it (issue 10, items 5 and 6): only the schemes it allows
(`storage_schemes`, default file, s3, gs, gcs, az), `file` only below its
roots (`storage_roots`), and a refusal never echoes a remote reply or a
local path. A real listener on 127.0.0.1 that greets like an FTP server
proves that nothing is dialed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_tcp import fake_host
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend, Settings
from labdeck.backend.errors import Invalid
from labdeck.backend.models import Team
from labdeck.backend.services import artifacts, projects, team_settings, teams


@pytest.fixture
def root(backend: Backend, settings: Settings, tmp_path: Path) -> Path:
    """The operator's one root for `file` connectors."""
    allowed = tmp_path / "team-stores"
    allowed.mkdir()
    settings.storage_roots = (str(allowed),)
    return allowed


@pytest.fixture
def admin(backend: Backend, make_user: Callable[..., Actor]) -> Actor:
    root = make_user("root", admin=True)
    teams.create_team(backend, root, "lab", "work", "acme")
    return root


def stored_url(backend: Backend) -> str:
    with backend.db.reader() as session:
        return session.scalars(select(Team.storage_url)).one()


def refused(backend: Backend, admin: Actor, url: str) -> str:
    with pytest.raises(Invalid) as err:
        team_settings.patch_settings(backend, admin, "lab", {"storage_url": url})
    assert err.value.field == "storage_url"
    assert stored_url(backend) == ""
    return err.value.message


def test_schemes_the_operator_did_not_allow_are_never_dialed(
    backend: Backend, admin: Actor, root: Path
) -> None:
    with fake_host(b"220 fake ftp\r\n") as host:
        at = f"127.0.0.1:{host.port}"
        for url in (
            f"ftp://{at}/x",
            f"webhdfs://{at}/x",
            f"http://{at}/x",
            f"sftp://{at}/x",
            f"simplecache::ftp://{at}/x",
            f"s3://bucket@{at}/x",
            f"s3://{at}/x",
            "github://org:repo@/",
            "memory://x",
        ):
            message = refused(backend, admin, url)
            for leak in ("220", "fake", str(host.port), "127.0.0.1", "BadStatusLine"):
                assert leak not in message, (url, message)
        assert host.dialed == 0


def test_local_folders_outside_the_operators_roots_are_refused(
    backend: Backend, admin: Actor, root: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "deep"
    (root / "escape").symlink_to("/etc")
    for url in (
        "file:///etc",
        "file:///root/.ssh",
        missing.as_uri(),
        f"file://{root}/../../etc",
        (root / "escape").as_uri(),
        f"file://elsewhere{root}/x",
    ):
        message = refused(backend, admin, url)
        for leak in ("/etc", ".ssh", str(tmp_path), "nonexistent"):
            assert leak not in message, (url, message)
    assert not (tmp_path / "nonexistent").exists()


def test_a_folder_below_a_root_is_checked_and_used(
    backend: Backend, admin: Actor, root: Path
) -> None:
    view = team_settings.patch_settings(
        backend, admin, "lab", {"storage_url": (root / "lab").as_uri()}
    )
    assert view["storage_url"] == (root / "lab").as_uri()
    assert os.listdir(root / "lab") == []  # the probe file is gone
    projects.create_project(backend, admin, "lab", "p")
    artifacts.create_artifact(
        backend, admin, "lab", "p", {"name": "m", "type": "model"}, [("w.bin", b"w")]
    )
    assert [p.name for p in (root / "lab").rglob("*") if p.is_file()] == ["w.bin"]


def test_a_stored_connector_the_operator_no_longer_allows_is_not_used(
    backend: Backend, admin: Actor, root: Path, tmp_path: Path
) -> None:
    """A connector saved before the operator narrowed the rules (or written
    into the database by hand) is refused when used, not dialed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    with backend.db.transaction() as session:
        session.scalars(select(Team)).one().storage_url = outside.as_uri()
    projects.create_project(backend, admin, "lab", "p")
    with pytest.raises(Invalid) as err:
        artifacts.create_artifact(
            backend, admin, "lab", "p", {"name": "m", "type": "model"}, [("w.bin", b"w")]
        )
    assert str(outside) not in err.value.message
    assert list(outside.iterdir()) == []
