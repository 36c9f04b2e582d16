"""REST: artifacts (multipart upload, versions, aliases, downloads) and the
team's model registry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from urllib3 import encode_multipart_formdata
from world import acme_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import artifacts, members, projects

ARTIFACT_FIELDS = {
    "id",
    "name",
    "type",
    "version",
    "aliases",
    "metadata",
    "size_bytes",
    "created_by",
}
MODEL_FIELDS = {"id", "team", "name", "versions", "aliases", "protected_aliases"}


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Actor]:
    """Team acme (alice and tina admins, bob and carol members, vera
    view-only), olga outside; the team project acme/vision."""
    people = acme_team(backend, make_user, through_services=True, more={"tina": "admin"})
    projects.create_project(backend, people["bob"], "acme", "vision", "team")
    return people


def multipart(meta: Any, files: list[tuple[str, bytes]]) -> tuple[bytes, dict[str, str]]:
    parts: list[tuple[str, Any]] = []
    if meta is not None:
        parts.append(("meta", meta if isinstance(meta, str) else json.dumps(meta)))
    parts += [("file", (path, data)) for path, data in files]
    body, content_type = encode_multipart_formdata(parts)
    return body, {"Content-Type": content_type}


WEIGHTS = {"name": "weights", "type": "model", "metadata": {"acc": 0.9}}
FILES = [("model.bin", b"\x00\x01binary"), ("cfg/params.json", b'{"lr": 0.1}')]


async def upload(api: Any, meta: Any, files: list[tuple[str, bytes]]) -> tuple[int, Any]:
    body, headers = multipart(meta, files)
    return await api("POST", "/projects/acme/vision/artifacts", raw=body, headers=headers)


async def test_artifacts_over_http(api_as: Any, jp_fetch: Any, world: dict[str, Actor]) -> None:
    bob, carol, vera, olga = (api_as(world[n]) for n in ("bob", "carol", "vera", "olga"))

    code, first = await upload(bob, WEIGHTS, FILES)
    assert code == 201 and ARTIFACT_FIELDS <= set(first)
    assert (first["name"], first["type"], first["version"]) == ("weights", "model", 1)
    assert first["aliases"] == ["latest"] and first["metadata"] == {"acc": 0.9}
    assert first["size_bytes"] == 8 + 11 and first["created_by"] == "bob"
    assert [f["path"] for f in first["files"]] == ["cfg/params.json", "model.bin"]
    code, second = await upload(carol, WEIGHTS, FILES[:1])
    assert code == 201 and second["version"] == 2 and second["aliases"] == ["latest"]

    for meta, files, field in (
        (None, FILES, "meta"),
        ("{not json", FILES, "meta"),
        (WEIGHTS, [], "files"),
        (WEIGHTS, [("../escape", b"x")], "files"),
        ({**WEIGHTS, "name": "bad name!"}, FILES, "name"),
        ({**WEIGHTS, "owner": "me"}, FILES, "owner"),
    ):
        code, err = await upload(bob, meta, files)
        assert code == 422 and err.get("field") == field, (meta, files)
    code, err = await bob(
        "POST", "/projects/acme/vision/artifacts", {"meta": WEIGHTS, "file": ["x"]}
    )
    assert code == 400 and err["error"] == "malformed"
    code, err = await upload(vera, WEIGHTS, FILES)
    assert code == 403 and "create artifacts" in err["message"]
    code, _ = await upload(olga, WEIGHTS, FILES)
    assert code == 404

    base = "/projects/acme/vision/artifacts"
    code, page = await vera("GET", base, params={"limit": 1})
    assert code == 200 and [a["id"] for a in page["items"]] == [second["id"]]
    assert ARTIFACT_FIELDS <= set(page["items"][0]) and page["next_cursor"]
    code, rest = await vera("GET", base, params={"cursor": page["next_cursor"]})
    assert code == 200 and [a["id"] for a in rest["items"]] == [first["id"]]
    code, _ = await olga("GET", base)
    assert code == 404

    aid = first["id"]
    code, got = await vera("GET", f"/artifacts/{aid}")
    assert code == 200 and got["aliases"] == [] and ARTIFACT_FIELDS <= set(got)
    code, err = await vera("GET", "/artifacts/v1")
    assert code == 422 and err["field"] == "id"
    code, _ = await olga("GET", f"/artifacts/{aid}")
    assert code == 404

    auth = {"Authorization": f"Bearer {bob.key}"}
    response = await jp_fetch(
        "labdeck", "api", "artifacts", str(aid), "files", "cfg", "params.json", headers=auth
    )
    assert response.code == 200 and response.body == b'{"lr": 0.1}'
    assert "params.json" in response.headers["Content-Disposition"]
    code, _ = await bob("GET", f"/artifacts/{aid}/files/cfg/missing.json")
    assert code == 404
    code, err = await vera("GET", f"/artifacts/{aid}/files/model.bin")
    assert code == 403 and "download artifact" in err["message"]

    code, patched = await carol("PATCH", f"/artifacts/{aid}", {"metadata": {"acc": 0.95}})
    assert code == 200 and patched["metadata"] == {"acc": 0.95}
    code, err = await carol("PATCH", f"/artifacts/{aid}", {"metadata": [1]})
    assert code == 422 and err["field"] == "metadata"
    code, err = await carol("PATCH", f"/artifacts/{aid}", {"version": 3})
    assert code == 422
    code, _ = await vera("PATCH", f"/artifacts/{aid}", {"metadata": {}})
    assert code == 403

    code, aliased = await carol("PUT", f"/artifacts/{aid}/aliases/best")
    assert code == 200 and aliased["aliases"] == ["best"]
    code, err = await carol("PUT", f"/artifacts/{aid}/aliases/no%20spaces")
    assert code == 422 and err["field"] == "alias"
    code, _ = await vera("PUT", f"/artifacts/{aid}/aliases/mine")
    assert code == 403
    code, _ = await vera("DELETE", f"/artifacts/{aid}/aliases/best")
    assert code == 403
    code, _ = await carol("DELETE", f"/artifacts/{aid}/aliases/best")
    assert code == 204
    code, _ = await carol("DELETE", f"/artifacts/{aid}/aliases/best")
    assert code == 404

    code, _ = await vera("DELETE", f"/artifacts/{aid}")
    assert code == 403
    code, _ = await carol("DELETE", f"/artifacts/{aid}")
    assert code == 204
    code, _ = await carol("GET", f"/artifacts/{aid}")
    assert code == 404
    # Last, so that every check above runs whatever this one finds.
    assert response.headers["Content-Type"] == "application/octet-stream"


async def test_registry_over_http(api_as: Any, world: dict[str, Actor], backend: Backend) -> None:
    alice, tina, bob, carol, vera, olga = (
        api_as(world[n]) for n in ("alice", "tina", "bob", "carol", "vera", "olga")
    )
    aid = artifacts.create_artifact(backend, world["bob"], "acme", "vision", WEIGHTS, FILES)["id"]
    projects.create_project(backend, world["bob"], "bob", "scratch")
    own = artifacts.create_artifact(backend, world["bob"], "bob", "scratch", WEIGHTS, FILES)["id"]

    code, model = await bob("POST", "/teams/acme/registry", {"name": "classifier"})
    assert code == 201 and MODEL_FIELDS <= set(model)
    assert (model["team"], model["name"], model["versions"]) == ("acme", "classifier", [])
    assert model["aliases"] == {} and model["protected_aliases"] == []
    mid = model["id"]
    code, err = await carol("POST", "/teams/acme/registry", {"name": "Classifier"})
    assert code == 409 and err["field"] == "name"
    code, err = await carol("POST", "/teams/acme/registry", {})
    assert code == 422 and err["field"] == "name"
    code, err = await vera("POST", "/teams/acme/registry", {"name": "mine"})
    assert code == 403 and "add models to the registry" in err["message"]
    code, _ = await olga("POST", "/teams/acme/registry", {"name": "mine"})
    assert code == 404

    code, listed = await vera("GET", "/teams/acme/registry")
    assert code == 200 and [m["name"] for m in listed] == ["classifier"]
    code, _ = await olga("GET", "/teams/acme/registry")
    assert code == 404
    code, got = await vera("GET", f"/registry/{mid}")
    assert code == 200 and got["id"] == mid and MODEL_FIELDS <= set(got)
    code, err = await vera("GET", "/registry/classifier")
    assert code == 422 and err["field"] == "model_id"
    code, _ = await olga("GET", f"/registry/{mid}")
    assert code == 404

    code, err = await bob("PUT", f"/registry/{mid}/aliases/staging")
    assert code == 409
    code, linked = await bob("POST", f"/registry/{mid}/versions", {"artifact_id": aid})
    assert code == 201 and [(v["version"], v["artifact_id"]) for v in linked["versions"]] == [
        (1, aid)
    ]
    code, err = await bob("POST", f"/registry/{mid}/versions", {"artifact_id": aid})
    assert code == 409
    for body in ({"artifact_id": "one"}, {}, {"artifact_id": own}):
        code, err = await bob("POST", f"/registry/{mid}/versions", body)
        assert code == 422 and err["field"] == "artifact_id", body
    code, _ = await vera("POST", f"/registry/{mid}/versions", {"artifact_id": aid})
    assert code == 403
    # The registry links it: the artifact cannot go.
    code, err = await bob("DELETE", f"/artifacts/{aid}")
    assert code == 409

    code, staged = await carol("PUT", f"/registry/{mid}/aliases/staging")
    assert code == 200 and staged["aliases"] == {"staging": 1}
    code, staged = await carol("PUT", f"/registry/{mid}/aliases/staging", {"version": 1})
    assert code == 200 and staged["aliases"] == {"staging": 1}
    for version in (9, "1", 0):
        code, err = await carol("PUT", f"/registry/{mid}/aliases/staging", {"version": version})
        assert code == 422 and err["field"] == "version", version
    code, _ = await vera("PUT", f"/registry/{mid}/aliases/mine")
    assert code == 403

    # Protected aliases are for registry admins; a team admin is not one by role.
    code, err = await tina("PUT", f"/registry/{mid}/protected-aliases/production")
    assert code == 403 and "protected aliases" in err["message"]
    code, _ = await bob("PUT", f"/registry/{mid}/protected-aliases/production")
    assert code == 403
    members.set_registry_admin(backend, world["alice"], "acme", "bob", True)
    code, prod = await bob("PUT", f"/registry/{mid}/protected-aliases/production", {"version": 1})
    assert code == 200 and prod["protected_aliases"] == ["production"]
    assert prod["aliases"] == {"production": 1, "staging": 1}
    code, err = await carol("DELETE", f"/registry/{mid}/aliases/production")
    assert code == 403
    code, _ = await carol("DELETE", f"/registry/{mid}/protected-aliases/production")
    assert code == 403
    code, _ = await bob("DELETE", f"/registry/{mid}/protected-aliases/production")
    assert code == 204
    code, _ = await bob("DELETE", f"/registry/{mid}/protected-aliases/production")
    assert code == 404
    code, got = await alice("GET", f"/registry/{mid}")
    assert got["protected_aliases"] == [] and got["aliases"]["production"] == 1
    code, _ = await carol("DELETE", f"/registry/{mid}/aliases/production")
    assert code == 204
    code, _ = await carol("DELETE", f"/registry/{mid}/aliases/production")
    assert code == 404
    code, _ = await olga("DELETE", f"/registry/{mid}/aliases/staging")
    assert code == 404
