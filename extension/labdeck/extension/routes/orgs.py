"""Organizations, their custom roles, and members' Models/Weave access."""

from __future__ import annotations

from typing import Any

from labdeck.backend.roles import CUSTOM_ROLE_BASES
from labdeck.backend.services import orgs

from .. import schemas as s
from ..endpoint import Call, Endpoint

ACCESS = {"type": "string", "enum": list(orgs.ACCESS_LEVELS)}


def list_orgs(call: Call) -> list[dict[str, Any]]:
    return orgs.list_orgs(call.backend, call.me)


def create_org(call: Call) -> dict[str, Any]:
    return orgs.create_org(call.backend, call.me, call.field(call.json(), "name"))


def list_custom_roles(call: Call) -> list[dict[str, Any]]:
    return orgs.list_custom_roles(call.backend, call.me, call.params["org"])


def create_custom_role(call: Call) -> dict[str, Any]:
    body = call.json()
    return orgs.create_custom_role(
        call.backend,
        call.me,
        call.params["org"],
        call.field(body, "name"),
        call.field(body, "base_role"),
        body.get("permissions", []),
    )


def set_org_member_access(call: Call) -> dict[str, Any]:
    return orgs.set_org_member_access(
        call.backend, call.me, call.params["org"], call.params["username"], call.json()
    )


ROUTES = [
    Endpoint(
        "GET",
        "/orgs",
        list_orgs,
        "Organizations I belong to (all of them for admin accounts)",
        "orgs",
        response=s.array(s.ORG),
    ),
    Endpoint(
        "POST",
        "/orgs",
        create_org,
        "Create an organization, with me as its admin (admin accounts)",
        "orgs",
        request=s.body({"name": s.STR}, ["name"]),
        response=s.ORG,
        status=201,
    ),
    Endpoint(
        "GET",
        "/orgs/{org}/custom-roles",
        list_custom_roles,
        "The organization's custom roles",
        "orgs",
        response=s.array(s.CUSTOM_ROLE),
    ),
    Endpoint(
        "POST",
        "/orgs/{org}/custom-roles",
        create_custom_role,
        "Define a custom role: a base role plus extra permissions (organization admins)",
        "orgs",
        request=s.body(
            {
                "name": s.STR,
                "base_role": {"type": "string", "enum": [r.value for r in CUSTOM_ROLE_BASES]},
                "permissions": s.array(s.STR),
            },
            ["name", "base_role"],
        ),
        response=s.CUSTOM_ROLE,
        status=201,
    ),
    Endpoint(
        "PATCH",
        "/orgs/{org}/members/{username}",
        set_org_member_access,
        "Change a member's Models/Weave access or organization admin (organization admins)",
        "orgs",
        request=s.body({"models_access": ACCESS, "weave_access": ACCESS, "admin": s.BOOL}),
        response=s.ORG_MEMBER,
    ),
]
