"""Team and user exports (F-TS-7): read the archive back and check every part."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from labdeck.backend.errors import Forbidden, NotFound
from labdeck.backend.models import (
    ArtifactAlias,
    ArtifactFile,
    ArtifactVersion,
    CellMarker,
    MetricPoint,
    MetricSeries,
    ModelAlias,
    ModelVersion,
    Project,
    RegisteredModel,
    Report,
    ReportComment,
    ReportFollower,
    Run,
    Team,
    User,
)
from labdeck.backend.services import (
    apikeys,
    export,
    invitations,
    members,
    service_accounts,
    team_settings,
    teams,
)


def unzip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return archive


def add_run(s, project_id, run_id, user_id, points=None):
    s.add(
        Run(
            id=run_id,
            project_id=project_id,
            name=f"name-{run_id}",
            state="finished",
            created_by=user_id,
            logged_by=user_id,
            config={"lr": 0.1, "layers": [1, 2]},
        )
    )
    s.flush()
    for key, values in (points or {}).items():
        series = MetricSeries(run_id=run_id, key=key, count=len(values), last_t=values[-1][0])
        s.add(series)
        s.flush()
        s.add_all(MetricPoint(series_id=series.id, t=t, v=v) for t, v in values)


def add_project(s, entity, name, *, team_id=None, owner_id=None, created_by=None):
    project = Project(
        entity=entity,
        name=name,
        team_id=team_id,
        owner_id=owner_id,
        visibility="private",
        created_by=created_by,
    )
    s.add(project)
    s.flush()
    return project


@pytest.fixture
def world(backend, make_user, settings):
    root = make_user("root", admin=True)
    alice = make_user("alice")
    eve = make_user("eve")
    teams.create_team(backend, root, "vision", "work", "acme")
    teams.create_team(backend, root, "audio", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    invitations.invite(backend, root, "vision", "new@example.org", "view_only")
    bot = service_accounts.create_service_account(backend, root, "vision", "ci-bot")
    team_settings.set_team_avatar(backend, root, "vision", _png())
    store = Path(urlsplit(settings.storage_url).path)
    version_url = settings.storage_url + "/vision/detector/model/v1"
    (store / "vision/detector/model/v1/sub").mkdir(parents=True)
    (store / "vision/detector/model/v1/weights.bin").write_bytes(b"\x00\x01weights")
    (store / "vision/detector/model/v1/sub/config.json").write_text('{"a": 1}')
    (store / "vision/detector/model/escape.txt").write_text("outside the version")
    with backend.db.transaction() as s:
        vision = s.scalar(select(Team.id).where(Team.name == "vision"))
        audio = s.scalar(select(Team.id).where(Team.name == "audio"))
        detector = add_project(s, "vision", "detector", team_id=vision, created_by=alice.user_id)
        add_run(
            s,
            detector.id,
            "run-metrics",
            alice.user_id,
            {"cpu": [(1.0, 10.0), (2.5, 20.25)], "gpu.0.temp": [(1.0, 61.0)]},
        )
        add_run(s, detector.id, "run-empty", root.user_id)
        s.add(CellMarker(run_id="run-metrics", execution_count=3, first_line="train()", start_t=1))
        report = Report(
            project_id=detector.id, title="Findings", body="# ok", created_by=alice.user_id
        )
        s.add(report)
        s.flush()
        s.add(ReportComment(report_id=report.id, user_id=root.user_id, text="nice"))
        s.add(ReportFollower(report_id=report.id, user_id=root.user_id))
        version = ArtifactVersion(
            project_id=detector.id,
            name="model",
            type="model",
            version=1,
            meta={"acc": 0.9},
            size_bytes=17,
            storage_url=version_url,
            created_by=alice.user_id,
        )
        s.add(version)
        s.flush()
        for path in ("weights.bin", "sub/config.json", "gone.txt", "../escape.txt"):
            s.add(ArtifactFile(version_id=version.id, path=path, size_bytes=1, sha256="0" * 64))
        s.add(
            ArtifactAlias(project_id=detector.id, name="model", alias="best", version_id=version.id)
        )
        model = RegisteredModel(team_id=vision, name="detector-model", created_by=root.user_id)
        s.add(model)
        s.flush()
        mv = ModelVersion(
            model_id=model.id, version=1, artifact_version_id=version.id, created_by=root.user_id
        )
        s.add(mv)
        s.flush()
        s.add(ModelAlias(model_id=model.id, alias="production", version_id=mv.id, protected=True))
        other = add_project(s, "audio", "speech", team_id=audio, created_by=root.user_id)
        add_run(s, other.id, "run-audio", root.user_id, {"cpu": [(1.0, 1.0)]})
        mine = add_project(s, "alice", "sandbox", owner_id=alice.user_id, created_by=alice.user_id)
        add_run(s, mine.id, "run-mine", alice.user_id, {"mem": [(5.0, 0.5)]})
        s.get(User, alice.user_id).github_token = "gho_never_exported"
    return {"root": root, "alice": alice, "eve": eve, "bot_secret": bot["secret"]}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def test_team_export_holds_every_part(backend, world):
    archive = unzip(export.export_team(backend, world["root"], "vision"))
    names = set(archive.namelist())
    assert {
        "team.json",
        "avatar.png",
        "runs/run-metrics/metrics.csv",
        "runs/run-empty/metrics.csv",
    } <= names
    assert not any("run-audio" in n or "run-mine" in n for n in names)
    doc = json.loads(archive.read("team.json"))
    assert doc["format"] == "labdeck-team-export" and doc["exported_by"] == "root"
    assert doc["team"]["name"] == "vision" and doc["team"]["organization"] == "acme"
    assert doc["settings"]["force_private"] is False
    assert [m["username"] for m in doc["members"]] == ["alice", "root"]
    assert [s["username"] for s in doc["service_accounts"]] == ["vision.ci-bot"]
    assert [(i["email"], i["state"]) for i in doc["invitations"]] == [
        ("new@example.org", "pending")
    ]
    assert [p["name"] for p in doc["projects"]] == ["detector"]
    runs = {r["id"]: r for r in doc["runs"]}
    assert set(runs) == {"run-metrics", "run-empty"}
    assert runs["run-metrics"]["config"] == {"lr": 0.1, "layers": [1, 2]}
    assert runs["run-metrics"]["created_by"] == "alice"
    assert runs["run-metrics"]["cell_markers"][0]["first_line"] == "train()"
    (report,) = doc["reports"]
    assert report["title"] == "Findings" and report["followers"] == ["root"]
    assert report["comments"][0]["user"] == "root" and report["comments"][0]["text"] == "nice"
    (model,) = doc["registry"]
    assert model["aliases"] == [{"alias": "production", "protected": True, "version": 1}]
    assert Image.open(io.BytesIO(archive.read("avatar.png"))).size == (256, 256)


def test_metrics_are_one_csv_per_run(backend, world):
    archive = unzip(export.export_team(backend, world["root"], "vision"))
    assert archive.read("runs/run-metrics/metrics.csv").decode() == (
        "key,t,value\ncpu,1.0,10.0\ncpu,2.5,20.25\ngpu.0.temp,1.0,61.0\n"
    )
    assert archive.read("runs/run-empty/metrics.csv").decode() == "key,t,value\n"


def test_artifact_files_are_copied_and_missing_or_unsafe_ones_listed(backend, world):
    archive = unzip(export.export_team(backend, world["root"], "vision"))
    doc = json.loads(archive.read("team.json"))
    (artifact,) = doc["artifacts"]
    assert artifact["aliases"] == ["best"] and artifact["metadata"] == {"acc": 0.9}
    where = {f["path"]: f["archive_path"] for f in artifact["files"]}
    vid = artifact["id"]
    assert where == {
        "weights.bin": f"artifacts/{vid}/weights.bin",
        "sub/config.json": f"artifacts/{vid}/sub/config.json",
        "gone.txt": None,
        "../escape.txt": None,
    }
    assert archive.read(f"artifacts/{vid}/weights.bin") == b"\x00\x01weights"
    assert archive.read(f"artifacts/{vid}/sub/config.json") == b'{"a": 1}'
    assert not any(".." in n or n.startswith("/") for n in archive.namelist())


def test_the_archive_holds_no_secret(backend, world):
    archive = unzip(export.export_team(backend, world["root"], "vision"))
    blob = b"".join(archive.read(n) for n in archive.namelist())
    assert world["bot_secret"].encode() not in blob


def test_only_team_admins_export(backend, world):
    with pytest.raises(Forbidden, match="view team settings"):
        export.export_team(backend, world["alice"], "vision")
    with pytest.raises(NotFound):
        export.export_team(backend, world["eve"], "vision")
    with pytest.raises(NotFound):
        export.export_team(backend, world["root"], "no-such-team")


def test_user_export(backend, world):
    key = apikeys.create_key(backend, world["alice"], "laptop")
    data = export.export_user(backend, world["alice"])
    archive = unzip(data)
    doc = json.loads(archive.read("user.json"))
    assert doc["format"] == "labdeck-user-export"
    assert doc["profile"]["username"] == "alice"
    assert doc["emails"] == [
        {
            "address": "alice@example.org",
            "verified": True,
            "login_methods": ["operator"],
            "created_at": doc["emails"][0]["created_at"],
            "primary": True,
        }
    ]
    assert [(k["name"], k["prefix"]) for k in doc["api_keys"]] == [("laptop", key["prefix"])]
    assert [(m["team"], m["role"]) for m in doc["memberships"]] == [("vision", "member")]
    assert doc["organizations"][0]["name"] == "acme"
    assert [p["name"] for p in doc["projects"]] == ["sandbox"]
    assert [r["id"] for r in doc["runs"]] == ["run-mine"]
    assert archive.read("runs/run-mine/metrics.csv").decode() == "key,t,value\nmem,5.0,0.5\n"
    assert not any("run-metrics" in n for n in archive.namelist())
    blob = b"".join(archive.read(n) for n in archive.namelist())
    assert key["secret"].encode() not in blob
    assert b"gho_never_exported" not in blob


def test_an_empty_account_exports_too(backend, world):
    doc = json.loads(unzip(export.export_user(backend, world["eve"])).read("user.json"))
    assert doc["projects"] == doc["runs"] == doc["memberships"] == []
    assert doc["avatar"] is None
