"""Organizations, custom roles and Models/Weave access; teams with their
settings, avatar, profile, storage, export and service accounts, over HTTP."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import jsonschema
from PIL import Image

from labdeck.backend.services import members
from labdeck.extension import schemas


async def fetch_raw(jp_fetch: Any, api: Any, path: str) -> tuple[int, Any, bytes]:
    """A binary answer (the `Api` client decodes JSON by Content-Type)."""
    response = await jp_fetch(
        "labdeck",
        "api",
        *path.strip("/").split("/"),
        headers={"Authorization": f"Bearer {api.key}"},
        raise_error=False,
    )
    return response.code, response.headers, response.body


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


async def test_orgs_custom_roles_and_member_access(api_as, make_user, backend):
    ann = make_user("ann", admin=True)
    bob, carol = make_user("bob"), make_user("carol")
    api, bob_api = api_as(ann), api_as(bob)

    code, orgs = await api("GET", "/orgs")
    assert code == 200 and orgs == []
    code, org = await api("POST", "/orgs", {"name": "acme"})
    assert code == 201 and org["name"] == "acme" and org["my_role"] == "admin"
    jsonschema.validate(org, schemas.ORG)
    code, err = await api("POST", "/orgs", {"name": "ACME"})
    assert code == 409 and err["field"] == "name"
    code, err = await api("POST", "/orgs", {"name": "a!"})
    assert code == 422 and err["field"] == "name"
    code, err = await bob_api("POST", "/orgs", {"name": "bobco"})
    assert code == 403 and "create organizations" in err["message"]
    code, orgs = await api("GET", "/orgs")
    assert [o["name"] for o in orgs] == ["acme"]
    jsonschema.validate(orgs, schemas.array(schemas.ORG))

    role = {"name": "auditor", "base_role": "view_only", "permissions": ["view team settings"]}
    code, created = await api("POST", "/orgs/acme/custom-roles", role)
    assert code == 201
    jsonschema.validate(created, schemas.CUSTOM_ROLE)
    assert created["organization"] == "acme" and created["permissions"] == ["view team settings"]
    code, err = await api("POST", "/orgs/acme/custom-roles", role)
    assert code == 409 and err["field"] == "name"
    code, err = await api("POST", "/orgs/acme/custom-roles", {**role, "base_role": "admin"})
    assert code == 422 and err["field"] == "base_role"
    code, err = await api("POST", "/orgs/acme/custom-roles", {**role, "permissions": ["fly"]})
    assert code == 422 and err["field"] == "permissions"
    code, err = await bob_api("GET", "/orgs/acme/custom-roles")
    assert code == 404

    code, _ = await api("POST", "/teams", {"name": "lab", "type": "work", "organization": "acme"})
    assert code == 201
    members.add_member(backend, ann, "lab", "bob", "member")
    code, roles = await bob_api("GET", "/orgs/acme/custom-roles")
    assert code == 200 and [r["name"] for r in roles] == ["auditor"]
    jsonschema.validate(roles, schemas.array(schemas.CUSTOM_ROLE))
    code, err = await bob_api("POST", "/orgs/acme/custom-roles", {**role, "name": "spy"})
    assert code == 403

    code, member = await api("PATCH", "/orgs/acme/members/bob", {"models_access": "limited"})
    assert code == 200
    jsonschema.validate(member, schemas.ORG_MEMBER)
    assert member["username"] == "bob" and member["models_access"] == "limited"
    assert member["weave_access"] == "full" and member["admin"] is False
    code, err = await api("PATCH", "/orgs/acme/members/bob", {"weave_access": "some"})
    assert code == 422 and err["field"] == "weave_access"
    code, err = await api("PATCH", "/orgs/acme/members/ann", {"admin": False})
    assert code == 409 and "last administrator" in err["message"]
    code, err = await api("PATCH", "/orgs/acme/members/carol", {"models_access": "none"})
    assert code == 404
    code, err = await bob_api("PATCH", "/orgs/acme/members/ann", {"models_access": "none"})
    assert code == 403
    code, listed = await api("GET", "/teams/lab/members")
    assert {m["username"]: m["models_access"] for m in listed["items"]}["bob"] == "limited"
    assert carol  # never a member: the org stays invisible to her
    code, _ = await api_as(carol)("GET", "/orgs/acme/custom-roles")
    assert code == 404


async def test_teams_settings_profile_storage_export(api_as, make_user, backend, jp_fetch):
    ann = make_user("ann", admin=True)
    bob, carol = make_user("bob"), make_user("carol")
    api, bob_api, carol_api = api_as(ann), api_as(bob), api_as(carol)

    new = {"name": "Lab", "type": "academic", "organization": "uni"}
    code, team = await api("POST", "/teams", new)
    assert code == 201
    jsonschema.validate(team, schemas.TEAM)
    assert team == {**team, "name": "lab", "type": "academic", "organization": "uni"}
    assert team["my_role"] == "admin"
    code, err = await api("POST", "/teams", new)
    assert code == 409 and err["field"] == "name"
    code, err = await api("POST", "/teams", {**new, "name": "bob"})
    assert code == 409 and err["field"] == "name"
    code, err = await api("POST", "/teams", {**new, "name": "lab2", "type": "hobby"})
    assert code == 422 and err["field"] == "type"
    code, err = await api("POST", "/teams", {"name": "lab2", "type": "work"})
    assert code == 422 and err["field"] == "organization"
    code, err = await bob_api("POST", "/teams", {**new, "name": "bobs"})
    assert code == 403
    members.add_member(backend, ann, "lab", "bob", "member")

    code, teams = await bob_api("GET", "/teams")
    assert code == 200 and [(t["name"], t["my_role"]) for t in teams] == [("lab", "member")]
    jsonschema.validate(teams, schemas.array(schemas.TEAM))
    code, detail = await api("GET", "/teams/lab")
    assert code == 200 and detail["member_count"] == 2 and detail["only_one_admin"] is True
    jsonschema.validate(detail, schemas.TEAM_DETAIL)
    code, err = await carol_api("GET", "/teams/lab")
    assert code == 404 and err["error"] == "not_found"

    code, settings = await api("GET", "/teams/lab/settings")
    assert code == 200 and settings["force_private"] is False
    jsonschema.validate(settings, schemas.TEAM_SETTINGS)
    code, settings = await api(
        "PATCH", "/teams/lab/settings", {"force_private": True, "code_saving_default": True}
    )
    assert code == 200 and settings["force_private"] and settings["code_saving_default"]
    code, err = await api("PATCH", "/teams/lab/settings", {"name": "lab3"})
    assert code == 422 and err["field"] == "name"
    slack_on = {"alerts": {"events": {"run_crashed": {"slack": True}}}}
    code, err = await api("PATCH", "/teams/lab/settings", slack_on)
    assert code == 422 and err["field"] == "alerts.slack_webhook_url"
    code, err = await bob_api("GET", "/teams/lab/settings")
    assert code == 403 and "view team settings" in err["message"]
    code, err = await carol_api("PATCH", "/teams/lab/settings", {"force_private": False})
    assert code == 404

    code, _ = await api("PUT", "/teams/lab/avatar", raw=png())
    assert code == 204
    code, err = await api("PUT", "/teams/lab/avatar", raw=b"GIF89a broken")
    assert code == 422 and err["field"] == "image"
    code, err = await bob_api("PUT", "/teams/lab/avatar", raw=png())
    assert code == 403
    code, _, picture = await fetch_raw(jp_fetch, bob_api, "/teams/lab/avatar")
    assert code == 200 and picture.startswith(b"\x89PNG")
    code, _, _ = await fetch_raw(jp_fetch, carol_api, "/teams/lab/avatar")
    assert code == 404

    code, profile = await bob_api("GET", "/teams/lab/profile")
    assert code == 200 and profile["visibility"] == "members"
    jsonschema.validate(profile, schemas.TEAM_PROFILE)
    code, _ = await carol_api("GET", "/teams/lab/profile")
    assert code == 404
    changes = {
        "intro": "We measure things.",
        "visibility": "public",
        "links": [{"title": "Site", "url": "https://lab.example"}],
    }
    code, profile = await api("PATCH", "/teams/lab/profile", changes)
    assert code == 200 and profile["intro"] == "We measure things."
    assert profile["links"] == changes["links"]
    code, err = await api("PATCH", "/teams/lab/profile", {"visibility": "everyone"})
    assert code == 422 and err["field"] == "visibility"
    code, err = await bob_api("PATCH", "/teams/lab/profile", {"intro": "mine"})
    assert code == 403
    code, profile = await carol_api("GET", "/teams/lab/profile")
    assert code == 200 and profile["visibility"] == "public"

    code, storage = await api("GET", "/teams/lab/storage")
    assert code == 200 and storage["used_bytes"] == 0
    jsonschema.validate(storage, schemas.STORAGE)
    code, _ = await bob_api("GET", "/teams/lab/storage")
    assert code == 403

    code, headers, data = await fetch_raw(jp_fetch, api, "/teams/lab/export")
    assert code == 200 and "labdeck-team-lab.zip" in headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        document = json.loads(zf.read("team.json"))
    assert document["team"]["name"] == "lab" and document["settings"]["force_private"]
    code, _, _ = await fetch_raw(jp_fetch, bob_api, "/teams/lab/export")
    assert code == 403


async def test_service_accounts(api_as, make_user, backend, jp_fetch):
    ann = make_user("ann", admin=True)
    bob = make_user("bob")
    api, bob_api = api_as(ann), api_as(bob)
    code, _ = await api("POST", "/teams", {"name": "lab", "type": "work", "organization": "org1"})
    assert code == 201
    members.add_member(backend, ann, "lab", "bob", "member")

    code, account = await api("POST", "/teams/lab/service-accounts", {"name": "ci-bot"})
    assert code == 201
    jsonschema.validate(account, schemas.SERVICE_ACCOUNT_CREATED)
    assert account["name"] == "ci-bot" and account["team"] == "lab"
    assert account["secret"].startswith("ldk_")
    code, err = await api("POST", "/teams/lab/service-accounts", {"name": "ci-bot"})
    assert code == 409 and err["field"] == "name"
    code, err = await api("POST", "/teams/lab/service-accounts", {"name": "CI bot!"})
    assert code == 422 and err["field"] == "name"
    code, err = await bob_api("POST", "/teams/lab/service-accounts", {"name": "mine"})
    assert code == 403 and "manage service accounts" in err["message"]

    code, accounts = await api("GET", "/teams/lab/service-accounts")
    assert code == 200 and [a["name"] for a in accounts] == ["ci-bot"]
    assert all("secret" not in a for a in accounts)
    jsonschema.validate(accounts, schemas.array(schemas.SERVICE_ACCOUNT))
    code, _ = await bob_api("GET", "/teams/lab/service-accounts")
    assert code == 403

    robot = {"Authorization": f"Bearer {account['secret']}"}
    response = await jp_fetch("labdeck", "api", "teams", headers=robot, raise_error=False)
    assert response.code == 200
    assert [(t["name"], t["my_role"]) for t in json.loads(response.body)] == [("lab", "member")]
    code, _ = await bob_api("DELETE", "/teams/lab/service-accounts/ci-bot")
    assert code == 403
    code, _ = await api("DELETE", "/teams/lab/service-accounts/ci-bot")
    assert code == 204
    code, err = await api("DELETE", "/teams/lab/service-accounts/ci-bot")
    assert code == 404
    response = await jp_fetch("labdeck", "api", "teams", headers=robot, raise_error=False)
    assert response.code == 401


async def test_service_account_alerts_on_its_run_in_a_private_project(
    api_as, api_with, make_user, backend
):
    """Over HTTP as in the service: a service account logs into a private
    project of its team that an admin created, then raises an alert on that
    run (it answered 404 while alerts used a copy of the visibility rule
    without the service-account clause); a member who did not create the
    project still gets 404."""
    ann = make_user("ann", admin=True)
    bob = make_user("bob")
    api = api_as(ann)
    code, _ = await api("POST", "/teams", {"name": "lab", "type": "work", "organization": "org1"})
    assert code == 201
    members.add_member(backend, ann, "lab", "bob", "member")
    code, _ = await api("POST", "/projects/lab", {"name": "secret", "visibility": "private"})
    assert code == 201
    code, account = await api("POST", "/teams/lab/service-accounts", {"name": "ci-bot"})
    assert code == 201
    bot = api_with(account["secret"])
    code, run = await bot("POST", "/projects/lab/secret/runs", {"name": "nightly"})
    assert code == 201
    body = {"title": "loss is nan", "text": "epoch 3", "level": "warn", "run_id": run["id"]}
    code, alert = await bot("POST", "/alerts", body)
    assert code == 201, alert
    assert (alert["title"], alert["level"], alert["suppressed"]) == ("loss is nan", "WARN", False)
    code, err = await api_as(bob)("POST", "/alerts", body)
    assert code == 404 and err["message"] == "no run with that id"
