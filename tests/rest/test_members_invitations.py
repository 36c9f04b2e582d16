"""Team members (paging, roles, removal, registry admins) and invitations
(invite, cancel, mine, accept, decline) over HTTP."""

from __future__ import annotations

import jsonschema

from labdeck.backend.services import invitations, members, orgs, teams
from labdeck.extension import schemas


async def test_members_roles_removal_and_registry_admins(api_as, make_user, backend):
    ann = make_user("ann", admin=True)
    bob, carol, dave = make_user("bob"), make_user("carol"), make_user("dave")
    api, bob_api, carol_api = api_as(ann), api_as(bob), api_as(carol)
    teams.create_team(backend, ann, "lab", "work", "acme")
    members.add_member(backend, ann, "lab", "bob", "member")
    members.add_member(backend, ann, "lab", "carol", "member")
    invitations.invite(backend, ann, "lab", "eve@example.org", "view_only")
    orgs.create_custom_role(backend, ann, "acme", "auditor", "view_only", [])

    code, first = await bob_api("GET", "/teams/lab/members", params={"limit": 2})
    assert code == 200
    jsonschema.validate(first, schemas.MEMBER_PAGE)
    assert [m["username"] for m in first["items"]] == ["ann", "bob"]
    assert first["items"][0]["role"] == "admin" and first["items"][0]["email"] == "ann@example.org"
    assert [i["email"] for i in first["invitations"]] == ["eve@example.org"]
    assert first["next_cursor"]
    code, second = await bob_api(
        "GET", "/teams/lab/members", params={"limit": 2, "cursor": first["next_cursor"]}
    )
    assert code == 200 and [m["username"] for m in second["items"]] == ["carol"]
    assert second["next_cursor"] is None and second["invitations"] == []
    code, err = await api("GET", "/teams/lab/members", params={"limit": 0})
    assert code == 422 and err["field"] == "limit"
    code, err = await api("GET", "/teams/lab/members", params={"cursor": "%%%"})
    assert code == 422 and err["field"] == "cursor"
    code, err = await api_as(dave)("GET", "/teams/lab/members")
    assert code == 404

    code, member = await api("PATCH", "/teams/lab/members/bob", {"role": "view_only"})
    assert code == 200 and member["username"] == "bob" and member["role"] == "view_only"
    jsonschema.validate(member, schemas.MEMBER)
    code, member = await api("PATCH", "/teams/lab/members/carol", {"role": "auditor"})
    assert code == 200 and member["role"] == "auditor"
    code, err = await api("PATCH", "/teams/lab/members/carol", {"role": "boss"})
    assert code == 422 and err["field"] == "role"
    code, err = await api("PATCH", "/teams/lab/members/carol", {})
    assert code == 422 and err["field"] == "role"
    code, err = await api("PATCH", "/teams/lab/members/ann", {"role": "member"})
    assert code == 409 and "last admin" in err["message"]
    code, err = await api("PATCH", "/teams/lab/members/dave", {"role": "member"})
    assert code == 404
    code, err = await bob_api("PATCH", "/teams/lab/members/carol", {"role": "member"})
    assert code == 403 and "change member roles" in err["message"]

    code, member = await api("PUT", "/teams/lab/registry-admins/bob")
    assert code == 200 and member["registry_admin"] is True
    jsonschema.validate(member, schemas.MEMBER)
    code, err = await carol_api("PUT", "/teams/lab/registry-admins/carol")
    assert code == 403
    code, err = await api("PUT", "/teams/lab/registry-admins/dave")
    assert code == 404
    code, _ = await api("DELETE", "/teams/lab/registry-admins/bob")
    assert code == 204

    code, err = await bob_api("DELETE", "/teams/lab/members/carol")
    assert code == 403
    code, err = await api("DELETE", "/teams/lab/members/ann")
    assert code == 409
    code, _ = await api("DELETE", "/teams/lab/members/carol")
    assert code == 204
    code, _ = await bob_api("DELETE", "/teams/lab/members/bob")  # leaving needs no permission
    assert code == 204
    code, page = await api("GET", "/teams/lab/members")
    assert [m["username"] for m in page["items"]] == ["ann"]


async def test_invitations_sent_accepted_declined_cancelled(api_as, make_user, backend):
    ann = make_user("ann", admin=True)
    bob, dave, eve, frank = (make_user(n) for n in ("bob", "dave", "eve", "frank"))
    api, bob_api, dave_api, eve_api = api_as(ann), api_as(bob), api_as(dave), api_as(eve)
    teams.create_team(backend, ann, "lab", "work", "acme")
    members.add_member(backend, ann, "lab", "bob", "member")

    code, invitation = await api(
        "POST", "/teams/lab/invitations", {"email": "Dave@Example.org", "role": "member"}
    )
    assert code == 201
    jsonschema.validate(invitation, schemas.INVITATION)
    assert invitation["email"] == "dave@example.org" and invitation["team"] == "lab"
    assert invitation["role"] == "member" and invitation["invited_by"] == "ann"
    assert invitation["state"] == "pending"
    body = {"email": "dave@example.org", "role": "member"}
    code, err = await api("POST", "/teams/lab/invitations", body)
    assert code == 409 and err["field"] == "email"
    code, err = await api("POST", "/teams/lab/invitations", {**body, "email": "bob@example.org"})
    assert code == 409 and err["field"] == "email"
    code, err = await api("POST", "/teams/lab/invitations", {**body, "email": "nobody"})
    assert code == 422 and err["field"] == "email"
    code, err = await api("POST", "/teams/lab/invitations", {**body, "role": "owner"})
    assert code == 422 and err["field"] == "role"
    code, err = await bob_api("POST", "/teams/lab/invitations", {**body, "email": "x@y.org"})
    assert code == 403 and "invite members" in err["message"]
    code, err = await eve_api("POST", "/teams/lab/invitations", {**body, "email": "x@y.org"})
    assert code == 404

    code, mine = await dave_api("GET", "/me/invitations")
    assert code == 200 and [i["id"] for i in mine] == [invitation["id"]]
    jsonschema.validate(mine, schemas.array(schemas.INVITATION))
    code, mine = await eve_api("GET", "/me/invitations")
    assert code == 200 and mine == []
    code, err = await eve_api("POST", f"/invitations/{invitation['id']}/accept")
    assert code == 404
    code, err = await dave_api("POST", "/invitations/first/accept")
    assert code == 422 and err["field"] == "id"
    code, accepted = await dave_api("POST", f"/invitations/{invitation['id']}/accept")
    assert code == 200 and accepted["state"] == "accepted"
    jsonschema.validate(accepted, schemas.INVITATION)
    code, err = await dave_api("POST", f"/invitations/{invitation['id']}/accept")
    assert code == 409
    code, mine = await dave_api("GET", "/teams")
    assert [(t["name"], t["my_role"]) for t in mine] == [("lab", "member")]

    code, to_eve = await api("POST", "/teams/lab/invitations", {**body, "email": "eve@example.org"})
    assert code == 201
    code, declined = await eve_api("POST", f"/invitations/{to_eve['id']}/decline")
    assert code == 200 and declined["state"] == "declined"
    code, err = await eve_api("POST", f"/invitations/{to_eve['id']}/decline")
    assert code == 409

    body = {**body, "email": "frank@example.org"}
    code, to_frank = await api("POST", "/teams/lab/invitations", body)
    assert code == 201
    code, err = await bob_api("DELETE", f"/teams/lab/invitations/{to_frank['id']}")
    assert code == 403
    code, _ = await api("DELETE", f"/teams/lab/invitations/{to_frank['id']}")
    assert code == 204
    code, err = await api("DELETE", f"/teams/lab/invitations/{to_frank['id']}")
    assert code == 409
    code, err = await api("DELETE", "/teams/lab/invitations/999999")
    assert code == 404
    code, err = await api_as(frank)("POST", f"/invitations/{to_frank['id']}/accept")
    assert code == 409 and "cancelled" in err["message"]
