"""Every row of permissions.csv over HTTP: API keys of a view-only member, a
member, a registry admin, a team admin and an admin account; each allowed
cell answers 2xx and each refused one 403 naming the permission. Outsiders
get 404 (existence is not leaked), and service accounts keep to their team."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from matrix_report import MATRIX_CHECKS
from permission_world import PROJECT, TEAM, World, build_world, fresh

from labdeck.backend.services import (
    artifacts,
    identity,
    projects,
    reports,
    runs,
    service_accounts,
    teams,
)

ROWS = list(csv.DictReader(open(Path(__file__).parent.parent / "data" / "permissions.csv")))
COLUMNS = ("view_only", "member", "registry_admin", "team_admin", "system_admin")
Request = tuple[str, str, Any]


def _report(w: World, owner: Any) -> int:
    return int(reports.create_report(w.backend, owner, TEAM, PROJECT, "r", "b")["id"])


def _run(w: World, owner: Any) -> str:
    return str(runs.create_run(w.backend, owner, TEAM, PROJECT)["id"])


def _project(w: World, owner: Any) -> str:
    name = fresh("proj")
    projects.create_project(w.backend, owner, TEAM, name, "team")
    return name


def _artifact_alias(w: World) -> str:
    alias = fresh("gone")
    artifacts.put_alias(w.backend, w.ta, w.artifact_id, alias)
    return alias


def _new_artifact(w: World) -> int:
    made = artifacts.create_artifact(
        w.backend, w.ta, TEAM, PROJECT, {"name": fresh("a"), "type": "dataset"}, [("f", b"x")]
    )
    return int(made["id"])


def _user(w: World) -> str:
    name = fresh("n")
    identity.create_user(w.backend, name, email=f"{name}@example.org")
    return name


BOUNDARY = "labdeckboundary"


def _multipart() -> bytes:
    meta = json.dumps({"name": fresh("upload"), "type": "dataset"})
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{meta}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{BOUNDARY}--\r\n"
    ).encode()


# action -> (world, owner) -> (method, path, body); prerequisites via the services.
REQUESTS: dict[str, Callable[[World, Any], Request]] = {
    "view team settings": lambda w, o: ("GET", f"/teams/{TEAM}/settings", None),
    "add team members": lambda w, o: (
        "POST",
        f"/teams/{TEAM}/members",
        {"username": _user(w), "role": "member"},
    ),
    "remove team members": lambda w, o: (
        "DELETE",
        f"/teams/{TEAM}/members/{w.member_user()}",
        None,
    ),
    "manage team settings": lambda w, o: (
        "PATCH",
        f"/teams/{TEAM}/settings",
        {"code_saving_default": True},
    ),
    "invite members": lambda w, o: (
        "POST",
        f"/teams/{TEAM}/invitations",
        {"email": f"{fresh('i')}@x.org", "role": "member"},
    ),
    "change member roles": lambda w, o: (
        "PATCH",
        f"/teams/{TEAM}/members/{w.member_user()}",
        {"role": "view_only"},
    ),
    "add or remove team admins": lambda w, o: (
        "PATCH",
        f"/teams/{TEAM}/members/{w.member_user()}",
        {"role": "admin"},
    ),
    "manage service accounts": lambda w, o: (
        "POST",
        f"/teams/{TEAM}/service-accounts",
        {"name": fresh("bot")},
    ),
    "assign custom roles": lambda w, o: (
        "PATCH",
        f"/teams/{TEAM}/members/{w.member_user()}",
        {"role": "auditor"},
    ),
    "view team alert rules": lambda w, o: ("GET", f"/teams/{TEAM}/alert-rules", None),
    "manage team alert rules": lambda w, o: (
        "POST",
        f"/teams/{TEAM}/alert-rules",
        {"key_pattern": "cpu", "comparison": ">", "value": 90},
    ),
    "add aliases": lambda w, o: ("PUT", f"/registry/{w.model_id}/aliases/{fresh('al')}", None),
    "add models to the registry": lambda w, o: (
        "POST",
        f"/teams/{TEAM}/registry",
        {"name": fresh("model")},
    ),
    "view models in the registry": lambda w, o: ("GET", f"/registry/{w.model_id}", None),
    "download models": lambda w, o: ("GET", f"/registry/{w.model_id}/files/w.bin", None),
    "add or remove registry admins": lambda w, o: (
        "PUT",
        f"/teams/{TEAM}/registry-admins/{w.member_user()}",
        None,
    ),
    "add or remove protected aliases": lambda w, o: (
        "PUT",
        f"/registry/{w.model_id}/protected-aliases/{fresh('prod')}",
        None,
    ),
    "view reports": lambda w, o: ("GET", f"/reports/{_report(w, o)}", None),
    "create reports": lambda w, o: (
        "POST",
        f"/projects/{TEAM}/{PROJECT}/reports",
        {"title": "t", "body": "b"},
    ),
    "edit reports": lambda w, o: ("PATCH", f"/reports/{_report(w, o)}", {"title": "new"}),
    "delete reports": lambda w, o: ("DELETE", f"/reports/{_report(w, o)}", None),
    "follow reports": lambda w, o: ("POST", f"/reports/{_report(w, o)}/follow", None),
    "comment on reports": lambda w, o: (
        "POST",
        f"/reports/{_report(w, o)}/comments",
        {"text": "nice"},
    ),
    "view experiment metadata": lambda w, o: ("GET", f"/runs/{_run(w, o)}", None),
    "edit experiment panels and workspaces": lambda w, o: (
        "PATCH",
        f"/runs/{_run(w, o)}",
        {"notes": "n"},
    ),
    "log experiments": lambda w, o: ("POST", f"/projects/{TEAM}/{PROJECT}/runs", {}),
    "delete experiments": lambda w, o: ("DELETE", f"/runs/{_run(w, o)}", None),
    "stop experiments": lambda w, o: ("POST", f"/runs/{_run(w, o)}/stop", None),
    "view artifacts": lambda w, o: ("GET", f"/artifacts/{w.artifact_id}", None),
    "create artifacts": lambda w, o: (
        "POST",
        f"/projects/{TEAM}/{PROJECT}/artifacts",
        _multipart(),
    ),
    "delete artifacts": lambda w, o: ("DELETE", f"/artifacts/{_new_artifact(w)}", None),
    "edit metadata": lambda w, o: ("PATCH", f"/artifacts/{w.artifact_id}", {"metadata": {"k": 1}}),
    "edit aliases": lambda w, o: ("PUT", f"/artifacts/{w.artifact_id}/aliases/{fresh('al')}", None),
    "delete aliases": lambda w, o: (
        "DELETE",
        f"/artifacts/{w.artifact_id}/aliases/{_artifact_alias(w)}",
        None,
    ),
    "download artifact": lambda w, o: ("GET", f"/artifacts/{w.artifact_id}/files/w.bin", None),
    "create projects": lambda w, o: (
        "POST",
        f"/projects/{TEAM}",
        {"name": fresh("proj"), "visibility": "team"},
    ),
    "edit project overview": lambda w, o: (
        "PATCH",
        f"/projects/{TEAM}/{_project(w, o)}",
        {"description": "d"},
    ),
    "delete projects": lambda w, o: ("DELETE", f"/projects/{TEAM}/{_project(w, w.ta)}", None),
    "configure system settings": lambda w, o: (
        "PUT",
        f"/system/storage-quotas/team/{TEAM}",
        {"quota_bytes": 10**9},
    ),
    "create or delete teams": lambda w, o: (
        "POST",
        "/teams",
        {"name": fresh("team"), "type": "work", "organization": "acmeorg"},
    ),
    "create organizations and custom roles": lambda w, o: ("POST", "/orgs", {"name": fresh("org")}),
}


async def _send(api: Any, request: Request) -> tuple[int, Any]:
    method, path, body = request
    if isinstance(body, bytes):
        return await api(
            method,
            path,
            raw=body,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    return await api(method, path, body)


@pytest.fixture
def world(backend) -> World:
    return build_world(backend)


async def test_every_row_over_http(world, api_as) -> None:
    assert [r["action"] for r in ROWS] == list(REQUESTS)
    clients = {column: api_as(world.column(column)) for column in COLUMNS}
    other = api_as(world.mem2)
    for row in ROWS:
        make = REQUESTS[row["action"]]
        for column in COLUMNS:
            cell = row[column]
            if cell == "-":
                continue
            code, body = await _send(clients[column], make(world, world.mem))
            where = (row["action"], column, code, body)
            if cell in ("yes", "own"):
                assert 200 <= code < 300, where
            else:
                assert code == 403, where
                # The reason names a permission of the table (the first one missing).
                assert body["error"] == "forbidden", where
                assert any(action in body["message"] for action in REQUESTS), where
            if cell == "own":
                code, body = await _send(other, make(world, world.mem))
                assert code == 403, (row["action"], "another member", code, body)
        MATRIX_CHECKS.setdefault("HTTP", set()).add(row["action"])


async def test_outsider_sees_nothing_of_the_team(world, api_as, make_user) -> None:
    outsider = api_as(make_user("outsider"))
    run_id = _run(world, world.mem)
    for path in (
        f"/teams/{TEAM}",
        f"/teams/{TEAM}/members",
        f"/teams/{TEAM}/settings",
        f"/projects/{TEAM}/{PROJECT}",
        f"/runs/{run_id}",
        f"/artifacts/{world.artifact_id}",
        f"/registry/{world.model_id}",
        f"/reports/{_report(world, world.mem)}",
    ):
        code, body = await outsider("GET", path)
        assert code == 404 and body["error"] == "not_found", (path, code, body)
    code, _ = await outsider("POST", f"/projects/{TEAM}/{PROJECT}/runs", {})
    assert code == 404


async def test_service_account_logs_only_to_its_team_or_open_projects(
    world, api_with, backend
) -> None:
    secret = service_accounts.create_service_account(backend, world.ta, TEAM, "nightly-ci")[
        "secret"
    ]
    bot = api_with(secret)
    code, run = await bot("POST", f"/projects/{TEAM}/{PROJECT}/runs", {"name": "nightly"})
    assert code == 201, run
    identity.create_user(backend, "other-admin", admin=True, email="oa@example.org")
    other = identity.actor_for(backend, "other-admin")
    teams.create_team(backend, other, "rival", "work", "rivalorg")
    projects.create_project(backend, other, "rival", "secret", "private")
    projects.create_project(backend, other, "rival", "public", "open")
    code, _ = await bot("POST", "/projects/rival/secret/runs", {})
    assert code in (403, 404)
    code, body = await bot("POST", "/projects/rival/public/runs", {})
    assert code == 201, body
