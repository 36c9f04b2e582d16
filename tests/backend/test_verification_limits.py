"""Verification mails are rate-limited per address and per account (F-EM-2):
an address may belong to a stranger, and no loop of adds, deletes and
resends may flood it. Counted in the outbox, which is what gets mailed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import LabdeckError, RateLimited
from labdeck.backend.models import Email, Notification, VerificationMail
from labdeck.backend.services import emails


def mailed(backend: Backend, address: str | None = None) -> int:
    query = select(func.count()).where(Notification.kind == "email_verification")
    if address is not None:
        query = query.where(Notification.recipient == address)
    with backend.db.reader() as session:
        return int(session.scalar(query) or 0)


def test_an_add_and_delete_loop_mails_a_stranger_once(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    eve = make_user("eve")
    refused: list[LabdeckError] = []
    for _ in range(20):
        try:
            added = emails.add_email(backend, eve, "stranger@corp.example")
        except RateLimited as exc:
            refused.append(exc)
            continue
        emails.delete_email(backend, eve, added["id"])
    assert mailed(backend, "stranger@corp.example") == 1
    assert len(refused) == 19
    assert all(0 < exc.retry_after <= emails.ADDRESS_COOLDOWN_S for exc in refused)
    # A refused add changes nothing.
    with backend.db.reader() as session:
        assert (
            session.scalar(select(func.count()).where(Email.address == "stranger@corp.example"))
            == 0
        )


def test_many_accounts_mail_one_address_once_a_minute(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    accounts = [make_user(f"user{i}") for i in range(5)]
    for account in accounts:
        try:
            emails.add_email(backend, account, "target@corp.example")
        except RateLimited:
            pass
    assert mailed(backend, "target@corp.example") == 1


def test_resending_counts_against_the_same_limit(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    eve = make_user("eve")
    added = emails.add_email(backend, eve, "slow@corp.example")
    for _ in range(5):
        with pytest.raises(RateLimited):
            emails.resend_verification(backend, eve, added["id"])
    assert mailed(backend, "slow@corp.example") == 1


def test_one_account_mails_at_most_its_hourly_limit(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    eve = make_user("eve")
    limit = emails.ACCOUNT_HOURLY
    for i in range(limit):
        emails.add_email(backend, eve, f"someone{i}@corp.example")
    with pytest.raises(RateLimited) as refused:
        emails.add_email(backend, eve, "one-more@corp.example")
    assert refused.value.retry_after > emails.ADDRESS_COOLDOWN_S
    assert mailed(backend) == limit


def test_one_account_mails_one_address_at_most_a_few_times_a_day(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    eve = make_user("eve")
    added = emails.add_email(backend, eve, "daily@corp.example")
    for _ in range(emails.ADDRESS_DAILY - 1):
        a_minute_later(backend)
        emails.resend_verification(backend, eve, added["id"])
    a_minute_later(backend)
    with pytest.raises(RateLimited) as refused:
        emails.resend_verification(backend, eve, added["id"])
    assert "today" in refused.value.message
    assert mailed(backend, "daily@corp.example") == emails.ADDRESS_DAILY
    # The address's owner, from another account, may still get a link.
    frank = make_user("frank")
    assert emails.add_email(backend, frank, "daily@corp.example")["verified"] is False
    assert mailed(backend, "daily@corp.example") == emails.ADDRESS_DAILY + 1


def a_minute_later(backend: Backend) -> None:
    with backend.db.transaction() as session:
        for row in session.scalars(select(VerificationMail)):
            row.sent_at -= dt.timedelta(seconds=61)
