"""Email squatting (F-EM-5, F-TM-3): an address belongs to the one account
that VERIFIED it. Adding an address is only a claim: it blocks nobody,
tells nobody whether another account has the address, and the mail that
could verify it names the account it would join. Verifying binds it and
drops every other account's claim."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict, NotFound
from labdeck.backend.models import Notification, VerificationMail
from labdeck.backend.services import emails, identity, invitations, teams

TOKEN = re.compile(r"/labdeck/api/emails/verify\?token=([A-Za-z0-9_-]+)")


def mails_to(backend: Backend, address: str) -> list[Notification]:
    with backend.db.reader() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.recipient == address)
                .order_by(Notification.id)
            )
        )


def link_in(mail: Notification) -> str:
    match = TOKEN.search(mail.body)
    assert match, mail.body
    return match.group(1)


def a_minute_later(backend: Backend) -> None:
    """As if the verification mails so far went out a minute ago (one mail
    an address a minute, whichever account asks)."""
    with backend.db.transaction() as session:
        for row in session.scalars(select(VerificationMail)):
            row.sent_at -= dt.timedelta(seconds=61)


def addresses(backend: Backend, actor: Actor) -> list[tuple[str, bool, bool]]:
    return [(e["address"], e["verified"], e["primary"]) for e in emails.list_emails(backend, actor)]


def test_an_unverified_claim_does_not_keep_the_owner_from_their_address(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root = make_user("root", admin=True)
    eve, frank = make_user("eve"), make_user("frank")
    teams.create_team(backend, root, "vision", "work", "acme")
    invitation = invitations.invite(backend, root, "vision", "frank@corp.example", "member")
    emails.add_email(backend, eve, "frank@corp.example")  # never verified
    a_minute_later(backend)
    emails.add_email(backend, frank, "frank@corp.example")
    mine = [m for m in mails_to(backend, "frank@corp.example") if "frank" in m.body.split("'")]
    emails.verify_email(backend, link_in(mine[-1]))
    assert ("frank@corp.example", True, False) in addresses(backend, frank)
    assert "frank@corp.example" not in [a for a, _, _ in addresses(backend, eve)]
    joined = invitations.accept_invitation(backend, frank, invitation["id"])
    assert joined["state"] == "accepted"


def test_the_verification_mail_names_the_account(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    eve = make_user("eve")
    emails.add_email(backend, eve, "frank@corp.example")
    (mail,) = mails_to(backend, "frank@corp.example")
    assert "'eve'" in mail.body


def test_adding_an_address_reveals_no_other_account(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    """Eve learns the same whether frank@ is Frank's verified address or
    nobody's, and Frank gets no mail about her attempt."""
    frank, eve = make_user("frank", email="frank@corp.example"), make_user("eve")
    taken = emails.add_email(backend, eve, "frank@corp.example")
    free = emails.add_email(backend, eve, "nobody@corp.example")

    def shape(view: dict[str, Any]) -> dict[str, Any]:
        # The answer names the address it was given, and nothing else differs.
        kept = {k: v for k, v in view.items() if k not in ("id", "address")}
        return json.loads(json.dumps(kept).replace(view["address"], "ADDRESS"))

    assert shape(taken) == shape(free)
    assert len(mails_to(backend, "nobody@corp.example")) == 1
    assert mails_to(backend, "frank@corp.example") == []
    assert addresses(backend, frank) == [("frank@corp.example", True, True)]


def test_verifying_binds_the_address_and_drops_the_other_claims(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    """Two accounts claim one address; the link the mailbox's owner opens
    decides; the other account's claim (its primary here) and link go, and
    its next address becomes its primary."""
    eve = identity.ensure_user(backend, "eve")
    frank = identity.ensure_user(backend, "frank")
    emails.add_email(backend, eve, "x@corp.example")
    emails.add_email(backend, eve, "eve@corp.example")
    a_minute_later(backend)
    emails.add_email(backend, frank, "x@corp.example")
    eves_link, franks_link = (link_in(m) for m in mails_to(backend, "x@corp.example"))
    emails.verify_email(backend, franks_link)
    assert addresses(backend, frank) == [("x@corp.example", True, True)]
    assert addresses(backend, eve) == [("eve@corp.example", False, True)]
    with pytest.raises(NotFound):
        emails.verify_email(backend, eves_link)
    # A verified address is one account's: nobody can verify it again.
    a_minute_later(backend)
    emails.add_email(backend, eve, "x@corp.example")
    assert len(mails_to(backend, "x@corp.example")) == 2


def test_the_operator_binds_an_address_someone_only_claimed(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    eve = make_user("eve")
    emails.add_email(backend, eve, "gina@corp.example")
    gina = make_user("gina", email="gina@corp.example")
    assert addresses(backend, gina) == [("gina@corp.example", True, True)]
    assert [a for a, _, _ in addresses(backend, eve)] == ["eve@example.org"]
    with pytest.raises(Conflict):
        make_user("gina2", email="gina@corp.example")
