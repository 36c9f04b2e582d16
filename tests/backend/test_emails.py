"""Email settings (F-EM-1..5): the outbox shows what would be mailed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict, Invalid, NotFound, RateLimited
from labdeck.backend.models import Email, EmailToken, Notification, VerificationMail
from labdeck.backend.services import emails, identity
from labdeck.backend.tokens import digest

LINK = re.compile(r"(http://127\.0\.0\.1:8888/labdeck/api/emails/verify\?token=)([A-Za-z0-9_-]+)")


def snapshot(backend: Backend) -> dict[str, list[str]]:
    with backend.db.reader() as session:
        return {
            model.__tablename__: sorted(
                repr(tuple(getattr(row, c.key) for c in model.__table__.columns))
                for row in session.scalars(select(model))
            )
            for model in (Email, EmailToken, Notification)
        }


def mails(backend: Backend) -> list[Notification]:
    with backend.db.reader() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def last_token(backend: Backend, address: str) -> str:
    sent = [m for m in mails(backend) if m.recipient == address]
    assert sent, f"nothing was sent to {address}"
    match = LINK.search(sent[-1].body)
    assert match, sent[-1].body
    return match.group(2)


def age_tokens(backend: Backend, email_id: int, by: dt.timedelta) -> None:
    """Moves the links' clock back, as if they had been sent `by` earlier."""
    with backend.db.transaction() as session:
        for row in session.scalars(select(EmailToken).where(EmailToken.email_id == email_id)):
            row.expires_at -= by


def age_mail_log(backend: Backend, by: dt.timedelta) -> None:
    """As if every verification mail had gone out `by` earlier (the rate limits' clock)."""
    with backend.db.transaction() as session:
        for row in session.scalars(select(VerificationMail)):
            row.sent_at -= by


def add_verified(backend: Backend, actor: Actor, address: str) -> dict[str, Any]:
    emails.add_email(backend, actor, address)
    return emails.verify_email(backend, last_token(backend, address))


def test_the_operator_email_is_listed_primary_and_verified(backend, make_user):
    alice = make_user("alice")
    [only] = emails.list_emails(backend, alice)
    assert only == {
        "id": only["id"],
        "address": "alice@example.org",
        "primary": True,
        "verified": True,
        "login_methods": ["operator"],
    }


def test_adding_sends_a_single_use_expiring_link(backend, make_user):
    alice = make_user("alice")
    added = emails.add_email(backend, alice, "  Alice.Work@Example.ORG ")
    assert added == {
        "id": added["id"],
        "address": "alice.work@example.org",
        "primary": False,
        "verified": False,
        "login_methods": [],
        # No SMTP in these settings: the answer says the link was not emailed.
        "mail": {"queued": False, "message": added["mail"]["message"]},
    }
    assert "no SMTP server configured" in added["mail"]["message"]
    [mail] = mails(backend)
    assert (mail.channel, mail.recipient, mail.kind) == (
        "email",
        "alice.work@example.org",
        "email_verification",
    )
    token = last_token(backend, "alice.work@example.org")
    assert f"http://127.0.0.1:8888/labdeck/api/emails/verify?token={token}" in mail.body
    with backend.db.reader() as session:
        row = session.scalar(select(EmailToken).where(EmailToken.email_id == added["id"]))
        assert row is not None
        # Only the hash is stored; the link expires after the configured TTL.
        assert row.token_hash == digest(token) and token not in row.token_hash
        expected = dt.datetime.now(dt.timezone.utc) + backend.settings.email_token_ttl
        assert abs((row.expires_at - expected).total_seconds()) < 60
    verified = emails.verify_email(backend, token)
    assert verified == {k: v for k, v in added.items() if k != "mail"} | {"verified": True}
    assert emails.list_emails(backend, alice)[1]["verified"] is True
    with pytest.raises(Invalid) as err:
        emails.verify_email(backend, token)
    assert err.value.field == "token" and "already used" in err.value.message


def test_an_expired_link_is_refused_and_changes_nothing(backend, make_user):
    alice = make_user("alice")
    added = emails.add_email(backend, alice, "late@example.org")
    token = last_token(backend, "late@example.org")
    age_tokens(backend, added["id"], backend.settings.email_token_ttl + dt.timedelta(seconds=1))
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        emails.verify_email(backend, token)
    assert "expired" in err.value.message
    assert snapshot(backend) == before
    assert emails.list_emails(backend, alice)[1]["verified"] is False


@pytest.mark.parametrize(
    "token", ["", "nope", "x" * 129, "' OR 1=1 --", None, 12, "../../etc/passwd"]
)
def test_unknown_or_malformed_links_are_not_found(backend, make_user, token):
    alice = make_user("alice")
    emails.add_email(backend, alice, "new@example.org")
    before = snapshot(backend)
    with pytest.raises(NotFound):
        emails.verify_email(backend, token)
    assert snapshot(backend) == before


def test_first_email_of_an_account_is_primary_even_unverified(backend):
    jane = identity.ensure_user(backend, "jane")
    assert emails.list_emails(backend, jane) == []
    first = emails.add_email(backend, jane, "jane@example.org")
    assert first["primary"] is True and first["verified"] is False
    second = emails.add_email(backend, jane, "jane2@example.org")
    assert second["primary"] is False


@pytest.mark.parametrize(
    "address",
    [
        "not-an-email",
        "a@b",
        "@example.org",
        "alice@",
        "alice@@example.org",
        "<script>@example.org",
        "alice@example.org\nBcc: victim@example.org",
        "alice@exa mple.org",
        "alice\x00@example.org",
        "a" * 65 + "@example.org",
        "a@" + "b" * 320 + ".org",
        "",
        None,
        42,
        ["alice@example.org"],
    ],
)
def test_bad_addresses_are_invalid_and_nothing_is_written(backend, make_user, address):
    alice = make_user("alice")
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        emails.add_email(backend, alice, address)
    assert err.value.field == "address"
    assert snapshot(backend) == before


@pytest.mark.parametrize("address", ["alice@example.org", "ALICE@example.org"])
def test_an_address_is_added_to_an_account_once(backend, make_user, address):
    """Other accounts' addresses: tests/backend/test_email_claims.py."""
    alice = make_user("alice")
    before = snapshot(backend)
    with pytest.raises(Conflict) as err:
        emails.add_email(backend, alice, address)
    assert err.value.field == "address"
    assert snapshot(backend) == before


def test_resend_replaces_the_link_and_is_rate_limited(backend, make_user):
    alice = make_user("alice")
    added = emails.add_email(backend, alice, "slow@example.org")
    old = last_token(backend, "slow@example.org")
    before = snapshot(backend)
    with pytest.raises(RateLimited) as err:
        emails.resend_verification(backend, alice, added["id"])
    assert "try again" in err.value.message and 0 < err.value.retry_after <= 60
    assert snapshot(backend) == before
    age_mail_log(backend, dt.timedelta(seconds=61))
    assert emails.resend_verification(backend, alice, added["id"]) == added
    new = last_token(backend, "slow@example.org")
    assert new != old
    assert len([m for m in mails(backend) if m.recipient == "slow@example.org"]) == 2
    with pytest.raises(NotFound):
        emails.verify_email(backend, old)
    assert emails.verify_email(backend, new)["verified"] is True


def test_resend_refusals(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    [primary] = emails.list_emails(backend, alice)
    with pytest.raises(Conflict):
        emails.resend_verification(backend, alice, primary["id"])
    bobs = emails.add_email(backend, bob, "bob2@example.org")
    before = snapshot(backend)
    for wrong in (bobs["id"], 99999):
        with pytest.raises(NotFound):
            emails.resend_verification(backend, alice, wrong)
    for junk in ("1", None, True, 1.5):
        with pytest.raises(Invalid):
            emails.resend_verification(backend, alice, junk)
    assert snapshot(backend) == before


def primaries(backend: Backend, actor: Actor) -> list[str]:
    return [e["address"] for e in emails.list_emails(backend, actor) if e["primary"]]


def test_make_primary_moves_the_one_primary_both_ways(backend, make_user):
    alice = make_user("alice")
    [first] = emails.list_emails(backend, alice)
    second = add_verified(backend, alice, "second@example.org")
    # Promote the higher id, then the lower one: the flush order must not
    # trip the one-primary index either way.
    listing = emails.make_primary(backend, alice, second["id"])
    assert [e["address"] for e in listing if e["primary"]] == ["second@example.org"]
    assert primaries(backend, alice) == ["second@example.org"]
    emails.make_primary(backend, alice, first["id"])
    assert primaries(backend, alice) == ["alice@example.org"]
    emails.make_primary(backend, alice, first["id"])
    assert primaries(backend, alice) == ["alice@example.org"]
    with backend.db.reader() as session:
        count = session.scalar(
            select(func.count()).where(Email.user_id == alice.user_id, Email.is_primary)
        )
    assert count == 1


def test_only_a_verified_own_address_can_become_primary(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    pending = emails.add_email(backend, alice, "pending@example.org")
    [bobs] = emails.list_emails(backend, bob)
    before = snapshot(backend)
    with pytest.raises(Conflict) as err:
        emails.make_primary(backend, alice, pending["id"])
    assert "verify" in err.value.message
    with pytest.raises(NotFound):
        emails.make_primary(backend, alice, bobs["id"])
    assert snapshot(backend) == before
    assert primaries(backend, bob) == ["bob@example.org"]


def test_delete_any_but_the_primary(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    [primary] = emails.list_emails(backend, alice)
    extra = emails.add_email(backend, alice, "extra@example.org")
    [bobs] = emails.list_emails(backend, bob)
    before = snapshot(backend)
    with pytest.raises(Conflict) as err:
        emails.delete_email(backend, alice, primary["id"])
    assert "set another primary first" in err.value.message
    with pytest.raises(NotFound):
        emails.delete_email(backend, alice, bobs["id"])
    assert snapshot(backend) == before
    token = last_token(backend, "extra@example.org")
    emails.delete_email(backend, alice, extra["id"])
    assert [e["address"] for e in emails.list_emails(backend, alice)] == ["alice@example.org"]
    with backend.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(EmailToken)) == 0
    # The link of a deleted address leads nowhere, and the address is free again.
    with pytest.raises(NotFound):
        emails.verify_email(backend, token)
    with pytest.raises(NotFound):
        emails.delete_email(backend, alice, extra["id"])
    age_mail_log(backend, dt.timedelta(seconds=61))
    assert emails.add_email(backend, bob, "extra@example.org")["address"] == "extra@example.org"


def test_after_a_primary_change_the_old_primary_can_be_deleted(backend, make_user):
    alice = make_user("alice")
    [old] = emails.list_emails(backend, alice)
    new = add_verified(backend, alice, "new@example.org")
    emails.make_primary(backend, alice, new["id"])
    emails.delete_email(backend, alice, old["id"])
    assert emails.list_emails(backend, alice) == [new | {"primary": True}]
