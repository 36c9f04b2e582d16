"""Artifacts: versions, files in storage (default store and a team's
connector), aliases, metadata, downloads, quota, and paths that must never
escape the version's prefix."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.context import Backend
from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unavailable
from labdeck.backend.models import (
    ArtifactAlias,
    ArtifactFile,
    ArtifactVersion,
    ModelVersion,
    RegisteredModel,
    Team,
)
from labdeck.backend.services import artifacts, projects


def artifact_rows(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    with backend.db.reader() as s:
        return {
            model.__tablename__: sorted(tuple(r) for r in s.execute(select(model.__table__)).all())
            for model in (ArtifactVersion, ArtifactFile, ArtifactAlias)
        }


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def folder(backend: Backend, artifact: dict[str, Any]) -> str:
    """The folder a version's files were written to (a random name: the
    files are stored before the version is numbered)."""
    with backend.db.reader() as s:
        version = s.get(ArtifactVersion, artifact["id"])
        assert version is not None
        return version.storage_url.rsplit("/", 1)[-1]


@pytest.fixture
def store(settings: Any) -> Path:
    return Path(settings.storage_url.removeprefix("file://"))


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Any]:
    people = acme
    people["project_id"] = projects.create_project(backend, people["alice"], "acme", "vision")["id"]
    return people


META = {"name": "dataset", "type": "dataset", "metadata": {"rows": 3}}
FILES = [("train.csv", b"a,b\n1,2\n"), ("nested/dir/readme.md", b"# hi")]


def test_create_and_get(backend: Backend, world: dict[str, Any], store: Path) -> None:
    art = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    assert art["name"] == "dataset" and art["type"] == "dataset" and art["version"] == 1
    assert art["aliases"] == ["latest"] and art["metadata"] == {"rows": 3}
    assert art["size_bytes"] == len(FILES[0][1]) + len(FILES[1][1])
    assert art["created_by"] == "bob"
    assert art["files"] == [
        {
            "path": "nested/dir/readme.md",
            "size_bytes": 4,
            "sha256": hashlib.sha256(b"# hi").hexdigest(),
        },
        {
            "path": "train.csv",
            "size_bytes": 8,
            "sha256": hashlib.sha256(FILES[0][1]).hexdigest(),
        },
    ]
    pid = world["project_id"]
    assert stored_files(store) == [
        f"artifacts/{pid}/dataset/{folder(backend, art)}/nested/dir/readme.md",
        f"artifacts/{pid}/dataset/{folder(backend, art)}/train.csv",
    ]
    assert artifacts.get_artifact(backend, world["vera"], art["id"]) == art
    data = artifacts.download_file(backend, world["carol"], art["id"], "nested/dir/readme.md")
    assert data == b"# hi"


def test_versions_and_latest(backend: Backend, world: dict[str, Any]) -> None:
    v1 = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    v2 = artifacts.create_artifact(backend, world["carol"], "acme", "vision", META, FILES[:1])
    other = artifacts.create_artifact(
        backend, world["bob"], "acme", "vision", {"name": "model", "type": "model"}, FILES
    )
    assert (v2["version"], other["version"]) == (2, 1)
    assert artifacts.get_artifact(backend, world["bob"], v1["id"])["aliases"] == []
    assert v2["aliases"] == ["latest"] and other["aliases"] == ["latest"]
    page = artifacts.list_artifacts(backend, world["vera"], "acme", "vision", limit=2)
    assert [a["id"] for a in page["items"]] == [other["id"], v2["id"]]
    rest = artifacts.list_artifacts(
        backend, world["vera"], "acme", "vision", 2, page["next_cursor"]
    )
    assert [a["id"] for a in rest["items"]] == [v1["id"]] and rest["next_cursor"] is None
    with pytest.raises(NotFound):
        artifacts.list_artifacts(backend, world["olga"], "acme", "vision")


@pytest.mark.parametrize(
    "path",
    [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "a//b",
        "./a",
        "a/.",
        "..",
        "",
        "a\\..\\b",
        "bad\x00name",
        "new\nline",
        "x" * 513,
        5,
    ],
)
def test_path_traversal_is_refused(
    backend: Backend, world: dict[str, Any], store: Path, path: Any
) -> None:
    before = artifact_rows(backend)
    with pytest.raises(Invalid) as err:
        artifacts.create_artifact(
            backend, world["bob"], "acme", "vision", META, [("ok.txt", b"1"), (path, b"evil")]
        )
    assert err.value.field == "files"
    assert artifact_rows(backend) == before
    assert stored_files(store) == []
    # nothing written beside the store either
    assert [f for f in stored_files(store.parent) if "escape" in f or "evil" in f] == []


@pytest.mark.parametrize(
    "meta, files, field",
    [
        ({"name": "x"}, FILES, "type"),
        ({"type": "t"}, FILES, "name"),
        ({"name": "../x", "type": "t"}, FILES, "name"),
        ({"name": "x", "type": "t" * 65}, FILES, "type"),
        ({"name": "x", "type": "t", "metadata": [1]}, FILES, "metadata"),
        ({"name": "x", "type": "t", "owner": "me"}, FILES, "owner"),
        ("meta", FILES, "meta"),
        (META, [], "files"),
        (META, [("a", "text not bytes")], "files"),
        (META, [("a", b"1"), ("a", b"2")], "files"),
        (META, [("a",)], "files"),
    ],
)
def test_bad_meta_or_files(
    backend: Backend, world: dict[str, Any], store: Path, meta: Any, files: Any, field: str
) -> None:
    before = artifact_rows(backend)
    with pytest.raises(Invalid) as err:
        artifacts.create_artifact(backend, world["bob"], "acme", "vision", meta, files)
    assert err.value.field == field
    assert artifact_rows(backend) == before and stored_files(store) == []


def test_permission_cells(backend: Backend, world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden, match="create artifacts"):
        artifacts.create_artifact(backend, world["vera"], "acme", "vision", META, FILES)
    with pytest.raises(NotFound):
        artifacts.create_artifact(backend, world["olga"], "acme", "vision", META, FILES)
    art = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    aid = art["id"]
    # view-only members see artifacts but may not download or change them
    assert artifacts.get_artifact(backend, world["vera"], aid)["id"] == aid
    cells = [
        (
            "download artifact",
            lambda: artifacts.download_file(backend, world["vera"], aid, "train.csv"),
        ),
        (
            "edit metadata",
            lambda: artifacts.patch_artifact(backend, world["vera"], aid, {"metadata": {}}),
        ),
        ("edit aliases", lambda: artifacts.put_alias(backend, world["vera"], aid, "best")),
        ("delete aliases", lambda: artifacts.delete_alias(backend, world["vera"], aid, "latest")),
        ("delete artifacts", lambda: artifacts.delete_artifact(backend, world["vera"], aid)),
    ]
    before = artifact_rows(backend)
    for action, call in cells:
        with pytest.raises(Forbidden, match=action):
            call()
    assert artifact_rows(backend) == before
    for call in (
        lambda: artifacts.get_artifact(backend, world["olga"], aid),
        lambda: artifacts.download_file(backend, world["olga"], aid, "train.csv"),
        lambda: artifacts.get_artifact(backend, world["bob"], 2**40),
        lambda: artifacts.get_artifact(backend, world["bob"], "1"),
    ):
        with pytest.raises(NotFound):
            call()
    # an outsider of an open project sees but does not download
    projects.create_project(backend, world["alice"], "acme", "public", visibility="open")
    pub = artifacts.create_artifact(backend, world["bob"], "acme", "public", META, FILES)
    assert artifacts.get_artifact(backend, world["olga"], pub["id"])["name"] == "dataset"
    with pytest.raises(Forbidden, match="download artifact"):
        artifacts.download_file(backend, world["olga"], pub["id"], "train.csv")


def test_download_only_recorded_paths(backend: Backend, world: dict[str, Any], store: Path) -> None:
    art = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    (store / "secret.txt").write_bytes(b"do not serve")
    for path in ("../../../secret.txt", "missing.txt", "/etc/passwd", None):
        with pytest.raises(NotFound):
            artifacts.download_file(backend, world["bob"], art["id"], path)


def test_metadata_and_aliases(backend: Backend, world: dict[str, Any]) -> None:
    v1 = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    v2 = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    patched = artifacts.patch_artifact(backend, world["carol"], v1["id"], {"metadata": {"a": [1]}})
    assert patched["metadata"] == {"a": [1]}
    before = artifact_rows(backend)
    for changes, field in (({"name": "other"}, "name"), ({"metadata": "x"}, "metadata")):
        with pytest.raises(Invalid) as err:
            artifacts.patch_artifact(backend, world["carol"], v1["id"], changes)
        assert err.value.field == field
    with pytest.raises(Invalid):
        artifacts.put_alias(backend, world["carol"], v1["id"], "no spaces")
    assert artifact_rows(backend) == before
    assert artifacts.put_alias(backend, world["carol"], v1["id"], "best")["aliases"] == ["best"]
    # an alias names one version: setting it elsewhere moves it
    moved = artifacts.put_alias(backend, world["carol"], v2["id"], "best")
    assert moved["aliases"] == ["best", "latest"]
    assert artifacts.get_artifact(backend, world["bob"], v1["id"])["aliases"] == []
    with pytest.raises(NotFound):
        artifacts.delete_alias(backend, world["carol"], v1["id"], "best")
    assert artifacts.delete_alias(backend, world["carol"], v2["id"], "best")["aliases"] == [
        "latest"
    ]


def test_delete_removes_files(backend: Backend, world: dict[str, Any], store: Path) -> None:
    v1 = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    v2 = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES[:1])
    artifacts.delete_artifact(backend, world["carol"], v1["id"])
    pid = world["project_id"]
    assert stored_files(store) == [f"artifacts/{pid}/dataset/{folder(backend, v2)}/train.csv"]
    with pytest.raises(NotFound):
        artifacts.get_artifact(backend, world["bob"], v1["id"])
    # the registry protects what it links
    with backend.db.transaction() as s:
        team = s.scalars(select(Team)).one()
        model = RegisteredModel(team_id=team.id, name="m", created_by=world["bob"].user_id)
        s.add(model)
        s.flush()
        s.add(
            ModelVersion(
                model_id=model.id,
                version=1,
                artifact_version_id=v2["id"],
                created_by=world["bob"].user_id,
            )
        )
    with pytest.raises(Conflict, match="registered model"):
        artifacts.delete_artifact(backend, world["alice"], v2["id"])
    assert stored_files(store) == [f"artifacts/{pid}/dataset/{folder(backend, v2)}/train.csv"]


def test_quota_is_checked_before_writing(
    backend: Backend, world: dict[str, Any], store: Path, settings: Any
) -> None:
    settings.team_quota_bytes = 100
    artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, [("a", b"x" * 60)])
    before = artifact_rows(backend)
    written = stored_files(store)
    with pytest.raises(TooLarge, match="quota"):
        artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, [("b", b"x" * 41)])
    assert artifact_rows(backend) == before and stored_files(store) == written
    # personal projects count against the user's quota
    settings.user_quota_bytes = 10
    projects.create_project(backend, world["bob"], "bob", "mine")
    with pytest.raises(TooLarge):
        artifacts.create_artifact(backend, world["bob"], "bob", "mine", META, [("c", b"x" * 11)])


def test_team_storage_connector(
    backend: Backend, world: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    own = tmp_path / "team-bucket"
    own.mkdir()
    with backend.db.transaction() as s:
        team = s.scalars(select(Team)).one()
        team.storage_url = own.as_uri() + "/"
    art = artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES[:1])
    pid = world["project_id"]
    assert stored_files(own) == [f"artifacts/{pid}/dataset/{folder(backend, art)}/train.csv"]
    assert stored_files(store) == []
    # files stay where they were written even after the connector changes
    with backend.db.transaction() as s:
        s.scalars(select(Team)).one().storage_url = ""
    assert artifacts.download_file(backend, world["bob"], art["id"], "train.csv") == FILES[0][1]
    artifacts.delete_artifact(backend, world["bob"], art["id"])
    assert stored_files(own) == []


def test_failed_write_leaves_no_rows(
    backend: Backend, world: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    with backend.db.transaction() as s:
        s.scalars(select(Team)).one().storage_url = blocker.as_uri()
    before = artifact_rows(backend)
    with pytest.raises(Unavailable) as err:
        artifacts.create_artifact(backend, world["bob"], "acme", "vision", META, FILES)
    assert str(tmp_path) not in err.value.message
    assert artifact_rows(backend) == before
