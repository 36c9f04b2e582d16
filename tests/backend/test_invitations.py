"""Invitations by email (F-TM-3): invite, see, accept, decline, cancel, expire."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from sqlalchemy import select, update

from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import Base, Email, Invitation, Membership, Notification, OrgMember
from labdeck.backend.services import (
    export,
    invitations,
    members,
    orgs,
    service_accounts,
    teams,
)


def snapshot(backend):
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def users(backend, make_user):
    root = make_user("root", admin=True)
    found = {"root": root}
    for name in ("alice", "bob", "eve"):
        found[name] = make_user(name)
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    return found


def outbox(backend):
    with backend.db.reader() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def test_invite_records_and_mails_the_invitation(backend, users, settings):
    sent = invitations.invite(backend, users["root"], "vision", "Bob@Example.org", "view_only")
    assert set(sent) >= {"id", "team", "email", "role", "invited_by", "expires_at", "state"}
    assert (sent["team"], sent["email"], sent["role"], sent["invited_by"], sent["state"]) == (
        "vision",
        "bob@example.org",
        "view_only",
        "root",
        "pending",
    )
    expires = dt.datetime.fromisoformat(sent["expires_at"])
    assert abs(expires - dt.datetime.now(dt.timezone.utc) - settings.invitation_ttl) < dt.timedelta(
        minutes=1
    )
    (mail,) = outbox(backend)
    assert (mail.channel, mail.kind, mail.recipient) == ("email", "team_invitation", sent["email"])
    assert "http://127.0.0.1:8888/lab" in mail.body and "vision" in mail.subject
    with backend.db.reader() as s:
        stored = s.get(Invitation, sent["id"])
        assert len(stored.token_hash) == 64 and stored.token_hash not in mail.body


def test_invitee_sees_and_accepts(backend, users):
    sent = invitations.invite(backend, users["root"], "vision", "bob@example.org", "view_only")
    assert [i["id"] for i in invitations.list_my_invitations(backend, users["bob"])] == [sent["id"]]
    assert invitations.list_my_invitations(backend, users["eve"]) == []
    accepted = invitations.accept_invitation(backend, users["bob"], sent["id"])
    assert accepted["state"] == "accepted"
    assert teams.list_my_teams(backend, users["bob"])[0]["my_role"] == "view_only"
    with backend.db.reader() as s:
        assert s.scalar(select(OrgMember).where(OrgMember.user_id == users["bob"].user_id))
    assert invitations.list_my_invitations(backend, users["bob"]) == []
    assert members.list_members(backend, users["root"], "vision")["invitations"] == []
    with pytest.raises(Conflict, match="already accepted"):
        invitations.accept_invitation(backend, users["bob"], sent["id"])


def test_only_a_verified_holder_of_the_address_may_answer(backend, users):
    sent = invitations.invite(backend, users["root"], "vision", "shared@example.org", "member")
    with backend.db.transaction() as s:
        s.add(Email(user_id=users["eve"].user_id, address="shared@example.org", verified=False))
    before = snapshot(backend)
    assert invitations.list_my_invitations(backend, users["eve"]) == []
    for who in ("eve", "bob", "alice"):
        for answer in (invitations.accept_invitation, invitations.decline_invitation):
            with pytest.raises(NotFound):
                answer(backend, users[who], sent["id"])
    with pytest.raises(NotFound):
        invitations.accept_invitation(backend, users["eve"], sent["id"] + 1000)
    assert snapshot(backend) == before


def test_decline(backend, users):
    sent = invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")
    assert invitations.decline_invitation(backend, users["bob"], sent["id"])["state"] == "declined"
    assert teams.list_my_teams(backend, users["bob"]) == []
    with pytest.raises(Conflict, match="declined"):
        invitations.accept_invitation(backend, users["bob"], sent["id"])


def test_invite_needs_the_permissions(backend, users):
    orgs.create_custom_role(backend, users["root"], "acme", "inviter", "member", ["invite members"])
    orgs.create_custom_role(backend, users["root"], "acme", "auditor", "view_only", [])
    members.change_role(backend, users["root"], "vision", "alice", "inviter")
    before = snapshot(backend)
    with pytest.raises(NotFound):
        invitations.invite(backend, users["eve"], "vision", "x@example.org", "member")
    with pytest.raises(Forbidden, match="add or remove team admins"):
        invitations.invite(backend, users["alice"], "vision", "x@example.org", "admin")
    with pytest.raises(Forbidden, match="assign custom roles"):
        invitations.invite(backend, users["alice"], "vision", "x@example.org", "auditor")
    members.change_role(backend, users["root"], "vision", "alice", "member")
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="invite members"):
        invitations.invite(backend, users["alice"], "vision", "x@example.org", "member")
    assert snapshot(backend) == before


def test_a_custom_role_inviter_invites_members(backend, users):
    orgs.create_custom_role(backend, users["root"], "acme", "inviter", "member", ["invite members"])
    members.change_role(backend, users["root"], "vision", "alice", "inviter")
    sent = invitations.invite(backend, users["alice"], "vision", "x@example.org", "member")
    assert sent["invited_by"] == "alice"


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [
        ("not-an-email", "member", "email"),
        ("a@b", "member", "email"),
        ("<script>@x.org", "member", "email"),
        (None, "member", "email"),
        ("x@example.org", "owner", "role"),
        ("x@example.org", "", "role"),
        ("x@example.org", None, "role"),
    ],
)
def test_bad_invitations_change_nothing(backend, users, email, role, field):
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        invitations.invite(backend, users["root"], "vision", email, role)
    assert err.value.field == field
    assert snapshot(backend) == before


def test_no_duplicate_pending_invitation_and_no_invitation_for_a_member(backend, users):
    invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")
    before = snapshot(backend)
    with pytest.raises(Conflict) as dup:
        invitations.invite(backend, users["root"], "vision", "BOB@example.org", "admin")
    with pytest.raises(Conflict) as member:
        invitations.invite(backend, users["root"], "vision", "alice@example.org", "member")
    assert dup.value.field == member.value.field == "email"
    assert snapshot(backend) == before


def test_custom_role_invitation_grants_the_custom_role(backend, users):
    orgs.create_custom_role(backend, users["root"], "acme", "auditor", "view_only", [])
    sent = invitations.invite(backend, users["root"], "vision", "bob@example.org", "auditor")
    assert sent["role"] == "auditor"
    invitations.accept_invitation(backend, users["bob"], sent["id"])
    assert teams.list_my_teams(backend, users["bob"])[0]["my_role"] == "auditor"


def test_cancel(backend, users):
    sent = invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")
    teams.create_team(backend, users["root"], "audio", "work", "acme")
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="invite members"):
        invitations.cancel_invitation(backend, users["alice"], "vision", sent["id"])
    with pytest.raises(NotFound):
        invitations.cancel_invitation(backend, users["eve"], "vision", sent["id"])
    with pytest.raises(NotFound):
        invitations.cancel_invitation(backend, users["root"], "audio", sent["id"])
    assert snapshot(backend) == before
    assert invitations.cancel_invitation(backend, users["root"], "vision", sent["id"])["state"] == (
        "cancelled"
    )
    with pytest.raises(Conflict, match="cancelled"):
        invitations.accept_invitation(backend, users["bob"], sent["id"])
    with pytest.raises(Conflict):
        invitations.cancel_invitation(backend, users["root"], "vision", sent["id"])
    # Once cancelled, the address may be invited again.
    invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")


def _expire(backend, invitation_id):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with backend.db.transaction() as s:
        s.execute(update(Invitation).where(Invitation.id == invitation_id).values(expires_at=past))


def test_expired_invitations(backend, users):
    sent = invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")
    _expire(backend, sent["id"])
    before = snapshot(backend)
    assert invitations.list_my_invitations(backend, users["bob"]) == []
    assert members.list_members(backend, users["root"], "vision")["invitations"] == []
    for call in (
        lambda: invitations.accept_invitation(backend, users["bob"], sent["id"]),
        lambda: invitations.decline_invitation(backend, users["bob"], sent["id"]),
        lambda: invitations.cancel_invitation(backend, users["root"], "vision", sent["id"]),
    ):
        with pytest.raises(Conflict, match="expired"):
            call()
    assert snapshot(backend) == before
    with backend.db.reader() as s:
        assert (
            s.scalar(select(Membership).where(Membership.user_id == users["bob"].user_id)) is None
        )
    archive = zipfile.ZipFile(io.BytesIO(export.export_team(backend, users["root"], "vision")))
    (listed,) = json.loads(archive.read("team.json"))["invitations"]
    assert listed["state"] == "expired"
    # An expired invitation does not block a new one.
    again = invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")
    invitations.accept_invitation(backend, users["bob"], again["id"])


@pytest.mark.parametrize("bad", ["1", 0, -3, True, None, 1.5])
def test_malformed_ids(backend, users, bad):
    with pytest.raises(Invalid):
        invitations.accept_invitation(backend, users["bob"], bad)
    with pytest.raises(Invalid):
        invitations.cancel_invitation(backend, users["root"], "vision", bad)


def test_an_invitee_who_joined_meanwhile_gets_a_conflict(backend, users):
    sent = invitations.invite(backend, users["root"], "vision", "bob@example.org", "member")
    members.add_member(backend, users["root"], "vision", "bob", "view_only")
    before = snapshot(backend)
    with pytest.raises(Conflict, match="already a member"):
        invitations.accept_invitation(backend, users["bob"], sent["id"])
    assert snapshot(backend) == before


def test_service_accounts_cannot_answer_invitations(backend, users):
    from labdeck.backend.services import identity

    sent = invitations.invite(backend, users["root"], "vision", "bot@example.org", "member")
    created = service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")
    bot = identity.authenticate_key(backend, created["secret"])
    with pytest.raises(NotFound):
        invitations.accept_invitation(backend, bot, sent["id"])
    assert invitations.list_my_invitations(backend, bot) == []
