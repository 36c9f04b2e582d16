"""Email settings over HTTP: add, verify by the emailed link (public), resend,
make primary, delete."""

from __future__ import annotations

import datetime as dt
import re

import jsonschema
from sqlalchemy import select

from labdeck.backend.models import EmailToken, Notification, VerificationMail
from labdeck.extension import schemas

ANONYMOUS = {"Authorization": ""}


def last_link_token(backend, address: str) -> str:
    with backend.db.reader() as session:
        body = session.scalars(
            select(Notification.body)
            .where(Notification.recipient == address)
            .order_by(Notification.id.desc())
        ).first()
    assert body is not None
    match = re.search(r"/labdeck/api/emails/verify\?token=(\S+)", body)
    assert match is not None
    return match.group(1)


def age_tokens(backend, email_id: int) -> None:
    """As if the last message went out long ago (past the resend cooldown)."""
    with backend.db.transaction() as session:
        for token in session.scalars(select(EmailToken).where(EmailToken.email_id == email_id)):
            token.expires_at -= dt.timedelta(minutes=5)
        for mail in session.scalars(select(VerificationMail)):
            mail.sent_at -= dt.timedelta(minutes=5)


async def test_email_lifecycle(api_as, api_jupyter, make_user, backend):
    alice = make_user("alice")
    bob = make_user("bob")
    api, bob_api = api_as(alice), api_as(bob)

    code, emails = await api("GET", "/me/emails")
    assert code == 200
    jsonschema.validate(emails, schemas.array(schemas.EMAIL))
    [first] = emails
    assert first["address"] == "alice@example.org" and first["primary"] and first["verified"]

    code, added = await api("POST", "/me/emails", {"address": "Alice@Work.example"})
    assert code == 201
    jsonschema.validate(added, schemas.EMAIL)
    assert added["address"] == "alice@work.example"
    assert added["primary"] is False and added["verified"] is False
    code, err = await api("POST", "/me/emails", {"address": "alice@work.example"})
    assert code == 409 and err["field"] == "address" and err["error"] == "conflict"
    # Bob may claim it too: only a verified address is an account's (F-EM-5);
    # a minute later, as one mail an address a minute goes out.
    age_tokens(backend, added["id"])
    code, claim = await bob_api("POST", "/me/emails", {"address": "alice@work.example"})
    assert code == 201 and claim["verified"] is False
    code, _ = await bob_api("DELETE", f"/me/emails/{claim['id']}")
    assert code == 204
    code, err = await api("POST", "/me/emails", {"address": "not-an-address"})
    assert code == 422 and err["field"] == "address"
    code, err = await api("POST", "/me/emails", {})
    assert code == 422 and err["field"] == "address"

    email_id = added["id"]
    code, err = await api("POST", f"/me/emails/{email_id}/primary")
    assert code == 409 and "verify" in err["message"]
    code, err = await api("POST", f"/me/emails/{email_id}/resend")
    assert code == 429 and err["error"] == "rate_limited"  # a message went out moments ago
    code, err = await bob_api("POST", f"/me/emails/{email_id}/resend")
    assert code == 404
    age_tokens(backend, email_id)
    code, resent = await api("POST", f"/me/emails/{email_id}/resend")
    assert code == 200 and resent["id"] == email_id and resent["verified"] is False

    token = last_link_token(backend, "alice@work.example")
    code, err = await api_jupyter("GET", "/emails/verify", headers=ANONYMOUS)
    assert code == 422 and err["field"] == "token"
    code, err = await api_jupyter(
        "GET", "/emails/verify", params={"token": "forged"}, headers=ANONYMOUS
    )
    assert code == 404 and err["error"] == "not_found"
    code, verified = await api_jupyter(
        "GET", "/emails/verify", params={"token": token}, headers=ANONYMOUS
    )
    assert code == 200 and verified["verified"] is True and verified["id"] == email_id
    jsonschema.validate(verified, schemas.EMAIL)
    code, err = await api_jupyter(
        "GET", "/emails/verify", params={"token": token}, headers=ANONYMOUS
    )
    assert code == 422 and err["field"] == "token"
    code, err = await api("POST", f"/me/emails/{email_id}/resend")
    assert code == 409 and "already verified" in err["message"]

    code, emails = await api("POST", f"/me/emails/{email_id}/primary")
    assert code == 200
    jsonschema.validate(emails, schemas.array(schemas.EMAIL))
    assert {e["address"]: e["primary"] for e in emails} == {
        "alice@example.org": False,
        "alice@work.example": True,
    }

    code, err = await api("DELETE", f"/me/emails/{email_id}")
    assert code == 409 and "primary" in err["message"]
    code, err = await bob_api("DELETE", f"/me/emails/{first['id']}")
    assert code == 404
    code, err = await api("DELETE", "/me/emails/first")
    assert code == 422 and err["field"] == "email_id"
    code, _ = await api("DELETE", f"/me/emails/{first['id']}")
    assert code == 204
    code, emails = await api("GET", "/me/emails")
    assert [e["address"] for e in emails] == ["alice@work.example"]
