"""The model registry: models, linked versions, aliases, protected aliases
(registry admins only, not team admins as such) and downloads."""

from __future__ import annotations

from typing import Any

import pytest
from seed import add_team
from sqlalchemy import select
from world import acme_team

from labdeck.backend.context import Backend
from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import (
    ModelAlias,
    ModelVersion,
    RegisteredModel,
)
from labdeck.backend.services import artifacts, projects, registry

PROTECTED = "add or remove protected aliases"


def registry_rows(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    with backend.db.reader() as s:
        return {
            model.__tablename__: sorted(tuple(r) for r in s.execute(select(model.__table__)).all())
            for model in (RegisteredModel, ModelVersion, ModelAlias)
        }


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Any]:
    # The shared acme, and: rita member + registry admin; tom team admin + registry admin
    people = acme_team(
        backend, make_user, more={"rita": "member", "tom": "admin"}, registry_admins=("rita", "tom")
    )
    projects.create_project(backend, people["alice"], "acme", "vision")
    people["a1"] = artifacts.create_artifact(
        backend,
        people["bob"],
        "acme",
        "vision",
        {"name": "net", "type": "model"},
        [("w.bin", b"1")],
    )["id"]
    people["a2"] = artifacts.create_artifact(
        backend,
        people["bob"],
        "acme",
        "vision",
        {"name": "net", "type": "model"},
        [("w.bin", b"2")],
    )["id"]
    return people


def test_models_and_versions(backend: Backend, world: dict[str, Any]) -> None:
    model = registry.create_model(backend, world["bob"], "acme", "Classifier")
    assert model["team"] == "acme" and model["name"] == "Classifier"
    assert model["versions"] == [] and model["aliases"] == {} and model["protected_aliases"] == []
    linked = registry.link_version(backend, world["bob"], model["id"], world["a1"])
    linked = registry.link_version(backend, world["bob"], model["id"], world["a2"])
    assert [(v["version"], v["artifact_id"]) for v in linked["versions"]] == [
        (1, world["a1"]),
        (2, world["a2"]),
    ]
    assert registry.get_model(backend, world["vera"], model["id"]) == linked
    assert [m["name"] for m in registry.list_models(backend, world["vera"], "acme")] == [
        "Classifier"
    ]
    with pytest.raises(Conflict):
        registry.link_version(backend, world["bob"], model["id"], world["a1"])
    before = registry_rows(backend)
    with pytest.raises(Conflict) as err:
        registry.create_model(backend, world["alice"], "acme", "classifier")
    assert err.value.field == "name"
    for bad in ("", "a b", "../x", "x" * 129, None):
        with pytest.raises(Invalid):
            registry.create_model(backend, world["bob"], "acme", bad)
    assert registry_rows(backend) == before


def test_who_may_see_and_add(backend: Backend, world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden, match="add models to the registry"):
        registry.create_model(backend, world["vera"], "acme", "m")
    model = registry.create_model(backend, world["bob"], "acme", "m")
    with pytest.raises(Forbidden, match="add models to the registry"):
        registry.link_version(backend, world["vera"], model["id"], world["a1"])
    for call in (
        lambda: registry.list_models(backend, world["olga"], "acme"),
        lambda: registry.get_model(backend, world["olga"], model["id"]),
        lambda: registry.create_model(backend, world["olga"], "acme", "x"),
        lambda: registry.list_models(backend, world["bob"], "nosuchteam"),
        lambda: registry.get_model(backend, world["bob"], 2**40),
    ):
        with pytest.raises(NotFound):
            call()


def test_linked_artifact_must_be_the_teams_and_visible(
    backend: Backend, world: dict[str, Any], make_user: Any
) -> None:
    model = registry.create_model(backend, world["bob"], "acme", "m")
    add_team(backend, "other", {world["bob"]: "admin"})
    projects.create_project(backend, world["bob"], "other", "p")
    foreign = artifacts.create_artifact(
        backend, world["bob"], "other", "p", {"name": "x", "type": "model"}, [("f", b"1")]
    )
    projects.create_project(backend, world["alice"], "acme", "hidden", visibility="private")
    hidden = artifacts.create_artifact(
        backend, world["alice"], "acme", "hidden", {"name": "y", "type": "model"}, [("f", b"1")]
    )
    before = registry_rows(backend)
    with pytest.raises(Invalid) as err:
        registry.link_version(backend, world["bob"], model["id"], foreign["id"])
    assert err.value.field == "artifact_id"
    with pytest.raises(NotFound):
        registry.link_version(backend, world["bob"], model["id"], hidden["id"])
    with pytest.raises(Invalid):
        registry.link_version(backend, world["bob"], model["id"], "1")
    assert registry_rows(backend) == before


def test_aliases(backend: Backend, world: dict[str, Any]) -> None:
    model = registry.create_model(backend, world["bob"], "acme", "m")
    mid = model["id"]
    with pytest.raises(Conflict):
        registry.put_alias(backend, world["bob"], mid, "staging")
    registry.link_version(backend, world["bob"], mid, world["a1"])
    registry.link_version(backend, world["bob"], mid, world["a2"])
    assert registry.put_alias(backend, world["bob"], mid, "staging")["aliases"] == {"staging": 2}
    assert registry.put_alias(backend, world["bob"], mid, "staging", 1)["aliases"] == {"staging": 1}
    with pytest.raises(Forbidden, match="add aliases"):
        registry.put_alias(backend, world["vera"], mid, "mine")
    before = registry_rows(backend)
    for version in (3, 0, -1, "1", True):
        with pytest.raises(Invalid) as err:
            registry.put_alias(backend, world["bob"], mid, "other", version)
        assert err.value.field == "version"
    assert registry_rows(backend) == before
    assert registry.delete_alias(backend, world["bob"], mid, "staging")["aliases"] == {}
    with pytest.raises(NotFound):
        registry.delete_alias(backend, world["bob"], mid, "staging")


def test_protected_aliases_are_registry_admins_alone(
    backend: Backend, world: dict[str, Any]
) -> None:
    mid = registry.create_model(backend, world["bob"], "acme", "m")["id"]
    registry.link_version(backend, world["bob"], mid, world["a1"])
    # alice is a team admin but not a registry admin; bob and vera neither
    for who in ("alice", "bob", "vera"):
        with pytest.raises(Forbidden, match=PROTECTED):
            registry.put_protected_alias(backend, world[who], mid, "production")
    view = registry.put_protected_alias(backend, world["rita"], mid, "production")
    assert view["protected_aliases"] == ["production"] and view["aliases"] == {"production": 1}
    registry.link_version(backend, world["bob"], mid, world["a2"])
    before = registry_rows(backend)
    # moving or removing it through the plain alias calls needs the same right
    for who in ("alice", "bob"):
        with pytest.raises(Forbidden, match=PROTECTED):
            registry.put_alias(backend, world[who], mid, "production", 2)
        with pytest.raises(Forbidden, match=PROTECTED):
            registry.delete_alias(backend, world[who], mid, "production")
        with pytest.raises(Forbidden, match=PROTECTED):
            registry.delete_protected_alias(backend, world[who], mid, "production")
    assert registry_rows(backend) == before
    # a team admin who is also a registry admin may
    moved = registry.put_alias(backend, world["tom"], mid, "production", 2)
    assert moved["aliases"] == {"production": 2}
    lifted = registry.delete_protected_alias(backend, world["rita"], mid, "production")
    assert lifted["protected_aliases"] == [] and lifted["aliases"] == {"production": 2}
    # once lifted, members move it like any alias
    assert registry.put_alias(backend, world["bob"], mid, "production", 1)["aliases"] == {
        "production": 1
    }
    with pytest.raises(NotFound):
        registry.delete_protected_alias(backend, world["rita"], mid, "production")


def test_protected_alias_declared_before_versions(backend: Backend, world: dict[str, Any]) -> None:
    mid = registry.create_model(backend, world["bob"], "acme", "m")["id"]
    view = registry.put_protected_alias(backend, world["rita"], mid, "production")
    assert view["protected_aliases"] == ["production"] and view["aliases"] == {}
    registry.link_version(backend, world["bob"], mid, world["a1"])
    with pytest.raises(Forbidden, match=PROTECTED):
        registry.put_alias(backend, world["bob"], mid, "production")
    assert (
        registry.delete_protected_alias(backend, world["rita"], mid, "production")[
            "protected_aliases"
        ]
        == []
    )
    with backend.db.reader() as s:
        assert s.scalars(select(ModelAlias)).all() == []


def test_download_model(backend: Backend, world: dict[str, Any]) -> None:
    mid = registry.create_model(backend, world["bob"], "acme", "m")["id"]
    registry.link_version(backend, world["bob"], mid, world["a1"])
    registry.link_version(backend, world["bob"], mid, world["a2"])
    registry.put_alias(backend, world["bob"], mid, "stable", 1)
    # view-only members may download models (though not artifacts directly)
    get = registry.download_model
    assert get(backend, world["vera"], mid, "stable", "w.bin") == b"1"
    assert get(backend, world["vera"], mid, "latest", "w.bin") == b"2"
    assert get(backend, world["vera"], mid, "v1", "w.bin") == b"1"
    assert get(backend, world["vera"], mid, "2", "w.bin") == b"2"
    for ref in ("v3", "nope", "99999999999999999999", "²"):
        with pytest.raises(NotFound):
            get(backend, world["vera"], mid, ref, "w.bin")
    for path in ("missing", "../w.bin"):
        with pytest.raises(NotFound):
            get(backend, world["vera"], mid, "latest", path)
    with pytest.raises(NotFound):
        get(backend, world["olga"], mid, "latest", "w.bin")
