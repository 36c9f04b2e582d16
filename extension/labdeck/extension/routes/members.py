"""Team members, invitations (sent by a team, and addressed to me), and
registry admins."""

from __future__ import annotations

from typing import Any

from labdeck.backend.paging import DEFAULT_LIMIT, MAX_LIMIT
from labdeck.backend.services import invitations, members

from .. import schemas as s
from ..endpoint import Call, Endpoint


def list_members(call: Call) -> dict[str, Any]:
    return members.list_members(
        call.backend, call.me, call.params["team"], call.arg("limit"), call.arg("cursor")
    )


def add_member(call: Call) -> dict[str, Any]:
    body = call.json()
    return members.add_member(
        call.backend,
        call.me,
        call.params["team"],
        call.field(body, "username"),
        call.field(body, "role"),
    )


def change_member_role(call: Call) -> dict[str, Any]:
    return members.change_role(
        call.backend,
        call.me,
        call.params["team"],
        call.params["username"],
        call.field(call.json(), "role"),
    )


def remove_member(call: Call) -> None:
    members.remove_member(call.backend, call.me, call.params["team"], call.params["username"])


def invite(call: Call) -> dict[str, Any]:
    body = call.json()
    return invitations.invite(
        call.backend,
        call.me,
        call.params["team"],
        call.field(body, "email"),
        call.field(body, "role"),
    )


def cancel_invitation(call: Call) -> None:
    invitations.cancel_invitation(call.backend, call.me, call.params["team"], call.int_param("id"))


def list_my_invitations(call: Call) -> list[dict[str, Any]]:
    return invitations.list_my_invitations(call.backend, call.me)


def accept_invitation(call: Call) -> dict[str, Any]:
    return invitations.accept_invitation(call.backend, call.me, call.int_param("id"))


def decline_invitation(call: Call) -> dict[str, Any]:
    return invitations.decline_invitation(call.backend, call.me, call.int_param("id"))


def add_registry_admin(call: Call) -> dict[str, Any]:
    return members.set_registry_admin(
        call.backend, call.me, call.params["team"], call.params["username"], True
    )


def remove_registry_admin(call: Call) -> None:
    members.set_registry_admin(
        call.backend, call.me, call.params["team"], call.params["username"], False
    )


_ROLE = s.body({"role": s.STR}, ["role"])

ROUTES = [
    Endpoint(
        "GET",
        "/teams/{team}/members",
        list_members,
        "Members by user name, a page at a time; pending invitations with the first page",
        "members",
        query=(
            (
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                f"page size (default {DEFAULT_LIMIT})",
            ),
            ("cursor", {"type": "string"}, "next_cursor of the previous page"),
        ),
        response=s.MEMBER_PAGE,
    ),
    Endpoint(
        "POST",
        "/teams/{team}/members",
        add_member,
        "Add an existing account to the team with a role, without an invitation "
        "(the 'add team members' permission)",
        "members",
        request=s.body({"username": s.STR, "role": s.STR}, ["username", "role"]),
        response=s.MEMBER,
        status=201,
    ),
    Endpoint(
        "PATCH",
        "/teams/{team}/members/{username}",
        change_member_role,
        "Change a member's role (admin, member, view_only or a custom role)",
        "members",
        request=_ROLE,
        response=s.MEMBER,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/members/{username}",
        remove_member,
        "Remove a member, or leave the team (never its last admin)",
        "members",
        status=204,
    ),
    Endpoint(
        "POST",
        "/teams/{team}/invitations",
        invite,
        "Invite an email address with a role",
        "members",
        request=s.body({"email": s.STR, "role": s.STR}, ["email", "role"]),
        response=s.INVITATION_SENT,
        status=201,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/invitations/{id}",
        cancel_invitation,
        "Cancel a pending invitation",
        "members",
        status=204,
    ),
    Endpoint(
        "GET",
        "/me/invitations",
        list_my_invitations,
        "Pending invitations addressed to my verified emails",
        "members",
        response=s.array(s.INVITATION),
    ),
    Endpoint(
        "POST",
        "/invitations/{id}/accept",
        accept_invitation,
        "Accept an invitation: join the team with its role",
        "members",
        response=s.INVITATION,
    ),
    Endpoint(
        "POST",
        "/invitations/{id}/decline",
        decline_invitation,
        "Decline an invitation",
        "members",
        response=s.INVITATION,
    ),
    Endpoint(
        "PUT",
        "/teams/{team}/registry-admins/{username}",
        add_registry_admin,
        "Make a member a registry admin of the team",
        "members",
        response=s.MEMBER,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/registry-admins/{username}",
        remove_registry_admin,
        "Take a member's registry admin away",
        "members",
        status=204,
    ),
]
