"""Projects: entities, visibility, the permission cells, force-private, and
the kernel's create-on-first-use resolution."""

from __future__ import annotations

import os
from typing import Any

import pytest
from seed import add_service_account, add_team
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import (
    ArtifactVersion,
    ModelVersion,
    Project,
    RegisteredModel,
    Run,
    Team,
)
from labdeck.backend.services import artifacts, projects, runs


def project_rows(backend: Backend) -> list[tuple[Any, ...]]:
    with backend.db.reader() as s:
        return sorted(tuple(r) for r in s.execute(select(Project.__table__)).all())


@pytest.fixture
def world(acme: dict[str, Any]) -> dict[str, Actor]:
    """alice admin, bob and carol members, vera view-only, olga outsider."""
    return acme


def names(items: list[dict[str, Any]]) -> list[str]:
    return [p["name"] for p in items]


def test_personal_project_roundtrip(backend: Backend, world: dict[str, Actor]) -> None:
    view = projects.create_project(backend, world["bob"], "bob", "Notes")
    assert view["entity"] == "bob" and view["name"] == "Notes"
    assert view["visibility"] == "team" and view["created_by"] == "bob"
    assert view["description"] == "" and view["created_at"]
    assert projects.get_project(backend, world["bob"], "BOB", "notes")["name"] == "Notes"
    assert names(projects.list_projects(backend, world["bob"], "bob")) == ["Notes"]
    # someone else's personal project that is not open does not exist for them
    with pytest.raises(NotFound):
        projects.get_project(backend, world["carol"], "bob", "Notes")
    with pytest.raises(NotFound):
        projects.list_projects(backend, world["carol"], "bob")


def test_personal_entity_is_its_owners_alone(backend: Backend, world: dict[str, Actor]) -> None:
    with pytest.raises(Forbidden, match="create projects"):
        projects.create_project(backend, world["alice"], "bob", "mine")
    with pytest.raises(NotFound):
        projects.create_project(backend, world["alice"], "nobody-here", "mine")
    assert project_rows(backend) == []


def test_team_project_permission_cells(backend: Backend, world: dict[str, Actor]) -> None:
    assert projects.create_project(backend, world["bob"], "acme", "vision")["created_by"] == "bob"
    assert projects.create_project(backend, world["alice"], "acme", "audio")["visibility"] == "team"
    before = project_rows(backend)
    with pytest.raises(Forbidden, match="create projects"):
        projects.create_project(backend, world["vera"], "acme", "nope")
    with pytest.raises(NotFound):
        projects.create_project(backend, world["olga"], "acme", "nope")
    assert project_rows(backend) == before
    assert names(projects.list_projects(backend, world["vera"], "acme")) == ["audio", "vision"]


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "../etc", "a/b", "-lead", "x" * 129, 42, None, "tab\tname", "nul\x00"],
)
def test_bad_project_names_change_nothing(
    backend: Backend, world: dict[str, Actor], bad: Any
) -> None:
    before = project_rows(backend)
    with pytest.raises(Invalid) as err:
        projects.create_project(backend, world["bob"], "acme", bad)
    assert err.value.field == "name"
    assert project_rows(backend) == before


def test_names_are_unique_per_entity_case_insensitively(
    backend: Backend, world: dict[str, Actor]
) -> None:
    projects.create_project(backend, world["bob"], "acme", "Vision")
    before = project_rows(backend)
    with pytest.raises(Conflict) as err:
        projects.create_project(backend, world["carol"], "acme", "vISION")
    assert err.value.field == "name"
    assert project_rows(backend) == before
    # the same name in another entity is another project
    projects.create_project(backend, world["bob"], "bob", "vision")


def test_bad_visibility(backend: Backend, world: dict[str, Actor]) -> None:
    with pytest.raises(Invalid) as err:
        projects.create_project(backend, world["bob"], "acme", "x", visibility="public")
    assert err.value.field == "visibility"
    assert project_rows(backend) == []


def test_force_private_team(backend: Backend, make_user: Any) -> None:
    boss, dev = make_user("boss"), make_user("dev")
    add_team(backend, "vault", {boss: "admin", dev: "member"}, force_private=True)
    assert projects.create_project(backend, dev, "vault", "p1")["visibility"] == "private"
    for visibility in ("team", "open"):
        with pytest.raises(Invalid) as err:
            projects.create_project(backend, dev, "vault", "p2", visibility=visibility)
        assert err.value.field == "visibility"
    with pytest.raises(Invalid):
        projects.patch_project(backend, boss, "vault", "p1", {"visibility": "open"})
    assert [p["name"] for p in projects.list_projects(backend, boss, "vault")] == ["p1"]
    assert projects.get_project(backend, boss, "vault", "p1")["visibility"] == "private"


def test_private_and_open_visibility(backend: Backend, world: dict[str, Actor]) -> None:
    projects.create_project(backend, world["bob"], "acme", "secret", visibility="private")
    projects.create_project(backend, world["bob"], "acme", "shared")
    projects.create_project(backend, world["carol"], "acme", "public", visibility="open")
    assert names(projects.list_projects(backend, world["bob"], "acme")) == [
        "public",
        "secret",
        "shared",
    ]
    assert names(projects.list_projects(backend, world["alice"], "acme")) == [
        "public",
        "secret",
        "shared",
    ]
    assert names(projects.list_projects(backend, world["carol"], "acme")) == ["public", "shared"]
    assert names(projects.list_projects(backend, world["olga"], "acme")) == ["public"]
    with pytest.raises(NotFound):
        projects.get_project(backend, world["carol"], "acme", "secret")
    with pytest.raises(NotFound):
        projects.get_project(backend, world["olga"], "acme", "shared")
    assert projects.get_project(backend, world["olga"], "acme", "public")["name"] == "public"


def test_outsider_learns_nothing_about_a_closed_team(
    backend: Backend, world: dict[str, Actor]
) -> None:
    projects.create_project(backend, world["bob"], "acme", "shared")
    with pytest.raises(NotFound) as existing:
        projects.list_projects(backend, world["olga"], "acme")
    with pytest.raises(NotFound) as missing:
        projects.list_projects(backend, world["olga"], "acmf")
    assert type(existing.value) is type(missing.value)


def test_patch_project_own_rule(backend: Backend, world: dict[str, Actor]) -> None:
    projects.create_project(backend, world["bob"], "acme", "vision")
    view = projects.patch_project(
        backend, world["bob"], "acme", "vision", {"description": "  *cats*  "}
    )
    assert view["description"] == "  *cats*  "
    for who in ("carol", "vera"):
        with pytest.raises(Forbidden, match="edit project overview"):
            projects.patch_project(backend, world[who], "acme", "vision", {"description": "x"})
    view = projects.patch_project(backend, world["alice"], "acme", "vision", {"visibility": "open"})
    assert view["visibility"] == "open"
    with pytest.raises(Invalid) as err:
        projects.patch_project(backend, world["bob"], "acme", "vision", {"name": "renamed"})
    assert err.value.field == "name"
    with pytest.raises(Invalid):
        projects.patch_project(backend, world["bob"], "acme", "vision", {"description": 5})
    with pytest.raises(NotFound):
        projects.patch_project(backend, world["olga"], "acme", "nothing", {"description": "x"})
    assert projects.get_project(backend, world["bob"], "acme", "vision")["description"] == (
        "  *cats*  "
    )


def test_delete_project(backend: Backend, world: dict[str, Actor], settings: Any) -> None:
    projects.create_project(backend, world["bob"], "acme", "vision")
    run = runs.create_run(backend, world["bob"], "acme", "vision")
    art = artifacts.create_artifact(
        backend, world["bob"], "acme", "vision", {"name": "data", "type": "dataset"}, [("a", b"1")]
    )
    for who in ("bob", "vera"):
        with pytest.raises(Forbidden, match="delete projects"):
            projects.delete_project(backend, world[who], "acme", "vision")
    with backend.db.reader() as s:
        prefix = s.scalars(select(Project.id)).one()
        stored = s.scalars(select(ArtifactVersion.storage_url)).one()
    files = settings.storage_url.removeprefix("file://") + f"/artifacts/{prefix}"
    assert os.path.isfile(stored.removeprefix("file://") + "/a")
    assert stored.startswith(f"file://{files}/data/")
    projects.delete_project(backend, world["alice"], "acme", "vision")
    assert project_rows(backend) == []
    with backend.db.reader() as s:
        assert s.get(Run, run["id"]) is None
    assert not os.path.exists(files)
    with pytest.raises(NotFound):
        artifacts.get_artifact(backend, world["alice"], art["id"])


def test_delete_project_refused_while_registry_links_it(
    backend: Backend, world: dict[str, Actor]
) -> None:
    projects.create_project(backend, world["bob"], "acme", "vision")
    art = artifacts.create_artifact(
        backend, world["bob"], "acme", "vision", {"name": "m", "type": "model"}, [("w", b"1")]
    )
    with backend.db.transaction() as s:
        team = s.scalars(select(Team)).one()
        model = RegisteredModel(team_id=team.id, name="m", created_by=world["bob"].user_id)
        s.add(model)
        s.flush()
        s.add(
            ModelVersion(
                model_id=model.id,
                version=1,
                artifact_version_id=art["id"],
                created_by=world["bob"].user_id,
            )
        )
    before = project_rows(backend)
    with pytest.raises(Conflict, match="registered model"):
        projects.delete_project(backend, world["alice"], "acme", "vision")
    assert project_rows(backend) == before


def test_ensure_project_creates_where_allowed(backend: Backend, world: dict[str, Actor]) -> None:
    mine = projects.ensure_project(backend, world["bob"], "scratch")
    assert (mine["entity"], mine["name"]) == ("bob", "scratch")
    again = projects.ensure_project(backend, world["bob"], "bob/SCRATCH")
    assert again["id"] == mine["id"]
    team = projects.ensure_project(backend, world["bob"], "acme/vision")
    assert team["entity"] == "acme" and team["visibility"] == "team"
    # view-only members may use existing projects but not create new ones
    assert projects.ensure_project(backend, world["vera"], "acme/vision")["id"] == team["id"]
    with pytest.raises(Forbidden, match="create projects"):
        projects.ensure_project(backend, world["vera"], "acme/new")
    with pytest.raises(NotFound):
        projects.ensure_project(backend, world["olga"], "acme/vision")
    with pytest.raises(NotFound):
        projects.ensure_project(backend, world["olga"], "acme/other")
    for bad in ("", "a/b/c", "acme/", "/x", "ACME WORK/x"):
        with pytest.raises(Invalid) as err:
            projects.ensure_project(backend, world["bob"], bad)
        assert err.value.field == "project"


def test_service_account_projects(
    backend: Backend, world: dict[str, Actor], make_user: Any
) -> None:
    team_id = add_team(backend, "robots", {world["carol"]: "admin"})
    bot = add_service_account(backend, team_id, "robots-ci")
    projects.create_project(backend, world["carol"], "robots", "hidden", visibility="private")
    # its own team's private project is its to log to
    assert "hidden" in names(projects.list_projects(backend, bot, "robots"))
    assert projects.get_project(backend, bot, "robots", "hidden")["name"] == "hidden"
    # a bare name is its team's project, created on first use
    view = projects.ensure_project(backend, bot, "nightly")
    assert (view["entity"], view["name"]) == ("robots", "nightly")
    # another team: open projects only
    projects.create_project(backend, world["bob"], "acme", "closed")
    projects.create_project(backend, world["bob"], "acme", "public", visibility="open")
    assert names(projects.list_projects(backend, bot, "acme")) == ["public"]
    with pytest.raises(NotFound):
        projects.get_project(backend, bot, "acme", "closed")
    # it has no personal projects, not even under its own name
    with pytest.raises(Forbidden):
        projects.create_project(backend, bot, "robots-ci", "mine")
