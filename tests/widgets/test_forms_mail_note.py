"""Issue 14: when no SMTP server is configured, the settings forms say so
instead of "emailed" (the add-email and invite forms), and say "being
emailed" only when an SMTP server is configured. Driven as a person would
(set values, click) against a real database; no mail server is contacted,
since the forms only queue."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.models import Notification
from labdeck.backend.services import members, teams
from labdeck.widgets.forms import EmailsForm, InvitationsForm

NO_SMTP = "no SMTP server configured"


def _with_smtp(backend: Backend) -> Backend:
    return Backend(
        backend.db,
        dataclasses.replace(backend.settings, smtp_host="127.0.0.1", smtp_port=2525),
    )


def _outbox(backend: Backend) -> list[tuple[str, str]]:
    with backend.db.reader() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [(n.channel, n.recipient) for n in rows]


@pytest.fixture
def team(backend: Backend, make_user: Callable[..., Actor]) -> dict[str, Any]:
    root = make_user("root", admin=True)
    alice = make_user("alice")
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    return {"root": root, "alice": alice}


def test_add_email_form_says_no_mail_was_sent_without_smtp(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    assert backend.settings.smtp_host == ""
    alice = make_user("alice")
    form = EmailsForm(backend, alice)
    form.address.value = "alice.work@example.org"
    form.add.click()
    assert "alice.work@example.org" in form.rows
    assert NO_SMTP in form.status.value
    assert "no email was sent to alice.work@example.org" in form.status.value
    assert "being emailed" not in form.status.value

    mailing = EmailsForm(_with_smtp(backend), alice)
    mailing.address.value = "alice.home@example.org"
    mailing.add.click()
    assert "being emailed to alice.home@example.org" in mailing.status.value
    assert NO_SMTP not in mailing.status.value
    # Either way the verification mail waits in the outbox for a deliverer.
    assert _outbox(backend) == [
        ("email", "alice.work@example.org"),
        ("email", "alice.home@example.org"),
    ]


def test_invite_form_says_nobody_was_emailed_without_smtp(
    backend: Backend, team: dict[str, Any]
) -> None:
    form = InvitationsForm(backend, team["root"], "vision")
    form.email.value, form.role.value = "carol@example.org", "member"
    form.invite.click()
    assert "Invited carol@example.org." in form.status.value
    assert NO_SMTP in form.status.value
    assert "no email was sent to carol@example.org" in form.status.value
    assert "emailed to" not in form.status.value

    mailing = InvitationsForm(_with_smtp(backend), team["root"], "vision")
    mailing.email.value, mailing.role.value = "dan@example.org", "member"
    mailing.invite.click()
    assert "being emailed to dan@example.org" in mailing.status.value
    assert NO_SMTP not in mailing.status.value
