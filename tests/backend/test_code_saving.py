"""Code saving (F-TS-4): a run keeps its code only when code saving is on
for it (the user's choice for the run, else the team's default, else off);
the files sit in the project's store, are listed in order, go into exports
and are removed with the run. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from labdeck.backend.context import Backend
from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.services import code, export, markers, projects, runs, team_settings


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Any]:
    projects.create_project(backend, acme["alice"], "acme", "vision")
    return acme


def stored_files(backend: Backend) -> list[Path]:
    root = Path(urlsplit(backend.settings.storage_url).path)
    return sorted(p for p in root.rglob("*") if p.is_file() and "code" in p.parts)


def test_off_by_default_keeps_nothing(backend: Backend, world: dict[str, Any]) -> None:
    run = runs.create_run(backend, world["bob"], "acme", "vision")["id"]
    with pytest.raises(Conflict):
        code.save_code(backend, world["bob"], run, "cell", "In [1]", "x = 1")
    assert code.list_code(backend, world["bob"], run) == {"code_saving": False, "files": []}
    assert stored_files(backend) == []


def test_team_default_and_the_users_choice(backend: Backend, world: dict[str, Any]) -> None:
    team_settings.patch_settings(backend, world["alice"], "acme", {"code_saving_default": True})
    on = runs.create_run(backend, world["bob"], "acme", "vision")
    assert on["config"]["_labdeck"]["code_saving"] is True
    off = runs.create_run(backend, world["bob"], "acme", "vision", save_code=False)
    assert off["config"]["_labdeck"]["code_saving"] is False
    with pytest.raises(Conflict):
        code.save_code(backend, world["bob"], off["id"], "cell", "In [1]", "x = 1")
    team_settings.patch_settings(backend, world["alice"], "acme", {"code_saving_default": False})
    chosen = runs.create_run(backend, world["bob"], "acme", "vision", save_code=True)
    assert chosen["config"]["_labdeck"]["code_saving"] is True
    with pytest.raises(Invalid):
        runs.create_run(backend, world["bob"], "acme", "vision", save_code="yes")  # type: ignore[arg-type]


def test_cells_kept_in_order_exported_and_purged(backend: Backend, world: dict[str, Any]) -> None:
    bob = world["bob"]
    run = runs.create_run(backend, bob, "acme", "vision", save_code=True)["id"]
    first = markers.add_cell_marker(backend, bob, run, 1, "import numpy as np", 1.0)
    second = markers.add_cell_marker(backend, bob, run, 2, "for i in range(3):", 2.0)
    body = "for i in range(3):\n    print('ü', i)\n"
    code.save_code(backend, bob, run, "cell", "In [1]", "import numpy as np", first["id"])
    saved = code.save_code(backend, bob, run, "cell", "In [2]", body, second["id"])
    assert saved["seq"] == 2 and saved["size_bytes"] == len(body.encode())
    listed = code.list_code(backend, world["vera"], run)  # view-only sees it, like the markers
    assert listed["code_saving"] is True
    assert [(f["seq"], f["name"], f["execution_count"], f["text"]) for f in listed["files"]] == [
        (1, "In [1]", 1, "import numpy as np"),
        (2, "In [2]", 2, body),
    ]
    assert len(stored_files(backend)) == 2
    for who, error in (("olga", NotFound), ("carol", Forbidden)):
        with pytest.raises(error):
            code.save_code(backend, world[who], run, "cell", "In [3]", "x")
    with pytest.raises(NotFound):
        code.list_code(backend, world["olga"], run)
    other = runs.create_run(backend, bob, "acme", "vision", save_code=True)["id"]
    with pytest.raises(NotFound):  # a marker of another run
        code.save_code(backend, bob, other, "cell", "In [1]", "x", first["id"])
    for kind, name, text, field in (
        ("notebook", "x", "x", "kind"),
        ("cell", "", "x", "name"),
        ("cell", "x", b"x", "text"),
        ("cell", "x", "x" * (code.TEXT_MAX + 1), "text"),
    ):
        with pytest.raises(Invalid) as err:
            code.save_code(backend, bob, run, kind, name, text)  # type: ignore[arg-type]
        assert err.value.field == field

    archive = zipfile.ZipFile(io.BytesIO(export.export_team(backend, world["alice"], "acme")))
    doc = json.loads(archive.read("team.json"))
    exported = next(r for r in doc["runs"] if r["id"] == run)["code"]
    assert [f["name"] for f in exported] == ["In [1]", "In [2]"]
    assert archive.read(exported[1]["archive_path"]).decode() == body

    runs.delete_run(backend, bob, run)
    assert stored_files(backend) == []


def test_saved_code_counts_against_the_quota(backend: Backend, world: dict[str, Any]) -> None:
    from labdeck.backend import storage
    from labdeck.backend.models import Team

    with backend.db.reader() as s:
        team_id = s.query(Team.id).filter(Team.name == "acme").scalar()
        before = storage.usage_for_team(s, team_id)
    run = runs.create_run(backend, world["bob"], "acme", "vision", save_code=True)["id"]
    code.save_code(backend, world["bob"], run, "script", "train.py", "x" * 1000)
    with backend.db.reader() as s:
        assert storage.usage_for_team(s, team_id) == before + 1000
