"""Teams: create and read, settings, avatar, profile, service accounts,
storage and export. Members and invitations are in `members`."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import export, service_accounts, team_settings, teams, usage

from .. import schemas as s
from ..endpoint import Call, Endpoint, Raw

PNG = "image/png"


def list_teams(call: Call) -> list[dict[str, Any]]:
    return teams.list_my_teams(call.backend, call.me)


def create_team(call: Call) -> dict[str, Any]:
    body = call.json()
    return teams.create_team(
        call.backend,
        call.me,
        call.field(body, "name"),
        call.field(body, "type"),
        call.field(body, "organization"),
    )


def get_team(call: Call) -> dict[str, Any]:
    return teams.get_team(call.backend, call.me, call.params["team"])


def delete_team(call: Call) -> None:
    teams.delete_team(
        call.backend, call.me, call.params["team"], call.field(call.json(), "confirm")
    )


def get_team_settings(call: Call) -> dict[str, Any]:
    return team_settings.get_settings(call.backend, call.me, call.params["team"])


def patch_team_settings(call: Call) -> dict[str, Any]:
    return team_settings.patch_settings(call.backend, call.me, call.params["team"], call.json())


def set_team_avatar(call: Call) -> None:
    team_settings.set_team_avatar(call.backend, call.me, call.params["team"], call.body_bytes)


def get_team_avatar(call: Call) -> Raw:
    return Raw(team_settings.get_team_avatar(call.backend, call.me, call.params["team"]), PNG)


def get_team_profile(call: Call) -> dict[str, Any]:
    return team_settings.get_team_profile(call.backend, call.me, call.params["team"])


def patch_team_profile(call: Call) -> dict[str, Any]:
    return team_settings.patch_team_profile(call.backend, call.me, call.params["team"], call.json())


def get_team_storage(call: Call) -> dict[str, Any]:
    return usage.get_team_storage(call.backend, call.me, call.params["team"])


def export_team(call: Call) -> Raw:
    team = call.params["team"]
    data = export.export_team(call.backend, call.me, team)
    return Raw(data, "application/zip", f"labdeck-team-{team.lower()}.zip")


def list_service_accounts(call: Call) -> list[dict[str, Any]]:
    return service_accounts.list_service_accounts(call.backend, call.me, call.params["team"])


def create_service_account(call: Call) -> dict[str, Any]:
    return service_accounts.create_service_account(
        call.backend, call.me, call.params["team"], call.field(call.json(), "name")
    )


def create_service_account_key(call: Call) -> dict[str, Any]:
    return service_accounts.create_service_account_key(
        call.backend, call.me, call.params["team"], call.params["name"]
    )


def revoke_service_account_key(call: Call) -> None:
    service_accounts.revoke_service_account_key(
        call.backend, call.me, call.params["team"], call.params["name"], call.int_param("key_id")
    )


def delete_service_account(call: Call) -> None:
    service_accounts.delete_service_account(
        call.backend, call.me, call.params["team"], call.params["name"]
    )


_TEAM_ALERTS = s.body(
    {
        "events": {"type": "object", "additionalProperties": s.CHANNELS_ON},
        "email": s.STR,
        "slack_webhook_url": s.STR,
    }
)
_SHOWCASE_MAX = team_settings.MAX_SHOWCASE

ROUTES = [
    Endpoint("GET", "/teams", list_teams, "Teams I belong to", "teams", response=s.array(s.TEAM)),
    Endpoint(
        "POST",
        "/teams",
        create_team,
        "Create a team, with me as its admin (admin accounts); a new organization "
        "is created with it",
        "teams",
        request=s.body(
            {
                "name": s.STR,
                "type": {"type": "string", "enum": list(teams.TEAM_TYPES)},
                "organization": s.STR,
            },
            ["name", "type", "organization"],
        ),
        response=s.TEAM,
        status=201,
    ),
    Endpoint(
        "GET",
        "/teams/{team}",
        get_team,
        "A team I belong to, with its member and admin counts",
        "teams",
        response=s.TEAM_DETAIL,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}",
        delete_team,
        "Delete a team with its projects, runs, reports, artifacts (files too) and registry "
        "(system admins; confirm with the team's name)",
        "teams",
        request=s.body({"confirm": s.STR}, ["confirm"]),
        status=204,
        long=True,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/settings",
        get_team_settings,
        "Team settings: privacy, code saving, alerts, storage (team admins)",
        "teams",
        response=s.TEAM_SETTINGS,
    ),
    Endpoint(
        "PATCH",
        "/teams/{team}/settings",
        patch_team_settings,
        "Change team settings (team admins)",
        "teams",
        request=s.body(
            {
                "force_private": s.BOOL,
                "code_saving_default": s.BOOL,
                "alerts": _TEAM_ALERTS,
                "storage_url": s.STR,
            }
        ),
        response=s.TEAM_SETTINGS,
        long=True,
    ),
    Endpoint(
        "PUT",
        "/teams/{team}/avatar",
        set_team_avatar,
        "Set the team's avatar (body: the image bytes; team admins)",
        "teams",
        request=s.BINARY,
        request_type="application/octet-stream",
        status=204,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/avatar",
        get_team_avatar,
        "The team's avatar (PNG)",
        "teams",
        response=s.BINARY,
        response_type=PNG,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/profile",
        get_team_profile,
        "The team's profile (members, or anyone once it is public)",
        "teams",
        response=s.TEAM_PROFILE,
    ),
    Endpoint(
        "PATCH",
        "/teams/{team}/profile",
        patch_team_profile,
        "Change the team's profile: intro, showcase (project names, report ids), links, "
        "visibility (team admins)",
        "teams",
        request=s.body(
            {
                "intro": s.STR,
                "showcased_projects": {**s.array(s.STR), "maxItems": _SHOWCASE_MAX},
                "showcased_reports": {**s.array(s.INT), "maxItems": _SHOWCASE_MAX},
                "links": s.array(s.body({"title": s.STR, "url": s.STR}, ["title", "url"])),
                "visibility": {"type": "string", "enum": list(team_settings.PROFILE_VISIBILITY)},
            }
        ),
        response=s.TEAM_PROFILE,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/storage",
        get_team_storage,
        "The team's storage used and quota (team admins)",
        "teams",
        response=s.STORAGE,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/export",
        export_team,
        "Export the team's projects, runs, reports, artifacts and settings (zip; team admins)",
        "teams",
        response=s.BINARY,
        response_type="application/zip",
        long=True,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/service-accounts",
        list_service_accounts,
        "The team's service accounts",
        "teams",
        response=s.array(s.SERVICE_ACCOUNT),
    ),
    Endpoint(
        "POST",
        "/teams/{team}/service-accounts",
        create_service_account,
        "Create a service account; its API key is shown once",
        "teams",
        request=s.body({"name": s.STR}, ["name"]),
        response=s.SERVICE_ACCOUNT_CREATED,
        status=201,
    ),
    Endpoint(
        "POST",
        "/teams/{team}/service-accounts/{name}/keys",
        create_service_account_key,
        "Mint another API key for a service account (team admins); the secret is shown once",
        "teams",
        response=s.API_KEY_CREATED,
        status=201,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/service-accounts/{name}/keys/{key_id}",
        revoke_service_account_key,
        "Revoke one of a service account's API keys (team admins)",
        "teams",
        status=204,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/service-accounts/{name}",
        delete_service_account,
        "Delete a service account and revoke its keys",
        "teams",
        status=204,
    ),
]
