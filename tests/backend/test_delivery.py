"""The outbox deliverer against real peers on 127.0.0.1: aiosmtpd for mail,
a tornado server for Slack's incoming webhooks (F-EM-2, F-US-4, F-TS-2).

Each test drives `Deliverer.run_once()` (one round: claim, send, settle) on
the test's own database, SQLite file and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from mailpeers import SmtpPeer, slack_peer, smtp_peer, smtp_settings
from sqlalchemy import func, select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.db import Database
from labdeck.backend.delivery.deliverer import NO_SMTP, Deliverer
from labdeck.backend.errors import Forbidden, Invalid
from labdeck.backend.models import Notification
from labdeck.backend.notifier import Message
from labdeck.backend.services import alert_settings, alerts, deliveries, emails

LINK = re.compile(r"https?://\S+")


def _with(backend: Backend, **changes: Any) -> Backend:
    return Backend(backend.db, dataclasses.replace(backend.settings, **changes))


def _rows(backend: Backend) -> list[Notification]:
    with backend.db.reader() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def _drain(deliverer: Deliverer, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not deliverer.run_once():
            return


def test_verification_mail_is_multipart_and_its_link_verifies_once(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    alice = make_user("alice")
    with smtp_peer() as smtp:
        mailing = _with(backend, **smtp_settings(smtp.port))
        added = emails.add_email(mailing, alice, "alice.work@example.org")
        assert added["mail"]["queued"] is True
        round_ = Deliverer(mailing).run_once()
        assert len(round_.sent) == 1
        (mail,) = smtp.inbox.wait_for(1)
    assert mail.rcpt_tos == ["alice.work@example.org"]
    assert mail.message["To"] == "alice.work@example.org"
    assert mail.message["From"] == "labdeck <labdeck@example.org>"
    assert mail.message.get_content_type() == "multipart/alternative"
    (link,) = LINK.findall(mail.text)
    assert link.startswith("http://127.0.0.1:8888/labdeck/api/emails/verify?token=")
    assert f'href="{link}"' in mail.html
    token = link.split("token=", 1)[1]
    assert emails.verify_email(backend, token)["verified"] is True
    with pytest.raises(Invalid, match="already used"):
        emails.verify_email(backend, token)
    (row,) = _rows(backend)
    assert row.sent_at is not None and row.attempts == 1 and row.lease_owner == ""


def test_without_smtp_the_answer_says_so_and_admins_see_why_nothing_was_sent(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root = make_user("root", admin=True)
    alice = make_user("alice")
    added = emails.add_email(backend, alice, "alice2@example.org")
    assert added["mail"]["queued"] is False
    assert "no SMTP server" in added["mail"]["message"]
    assert Deliverer(backend).run_once().failed
    seen = deliveries.list_deliveries(backend, root)
    assert seen["smtp_configured"] is False
    (failed,) = seen["deliveries"]
    assert failed["state"] == "failed" and failed["last_error"] == NO_SMTP
    assert failed["recipient"] == "alice2@example.org"
    with pytest.raises(Forbidden):
        deliveries.list_deliveries(backend, alice)


def test_an_smtp_outage_is_retried_with_backoff_and_each_mail_arrives_once(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    alice = make_user("alice")
    smtp = SmtpPeer()  # not started: connections are refused
    mailing = _with(backend, **smtp_settings(smtp.port))
    for n in range(3):
        alerts.send_alert(mailing, alice, f"alert {n}")
    deliverer = Deliverer(mailing)
    down = deliverer.run_once()
    assert len(down.retrying) == 3 and not down.sent
    assert all(
        r.attempts == 1 and r.next_attempt_at and "Refused" in r.last_error for r in _rows(backend)
    )
    assert not deliverer.run_once(), "nothing is due before its backoff"
    smtp.start()
    try:
        deadline = time.monotonic() + 30
        sent: list[int] = []
        while len(sent) < 3 and time.monotonic() < deadline:
            sent += deliverer.run_once().sent
            time.sleep(0.1)
        _drain(deliverer)
        received = smtp.inbox.wait_for(3)
        time.sleep(0.5)
    finally:
        smtp.stop()
    assert sorted(str(m.message["Subject"]) for m in smtp.inbox.received) == [
        f"[labdeck] INFO: alert {n}" for n in range(3)
    ]
    assert len(received) == 3
    assert all(r.sent_at is not None and r.attempts == 2 for r in _rows(backend))


def test_a_refused_recipient_fails_for_good_with_the_reason(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root = make_user("root", admin=True)
    alice = make_user("alice", email="gone@example.org")
    with smtp_peer() as smtp:
        smtp.inbox.refuse.add("gone@example.org")
        mailing = _with(backend, **smtp_settings(smtp.port))
        alerts.send_alert(mailing, alice, "nobody home")
        assert len(Deliverer(mailing).run_once().failed) == 1
    (failed,) = deliveries.list_deliveries(mailing, root)["deliveries"]
    assert "refused the recipient" in failed["last_error"] and "550" in failed["last_error"]
    assert failed["attempts"] == 1


def test_cr_lf_in_a_subject_or_an_address_injects_no_header(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    alice = make_user("alice")
    with smtp_peer() as smtp:
        mailing = _with(backend, **smtp_settings(smtp.port))
        alerts.send_alert(mailing, alice, "Hello\r\nBcc: evil@example.org\r\nX-Evil: 1")
        with mailing.db.transaction() as session:
            mailing.notifier.send(
                session,
                Message("email", "bob@example.org\r\nBcc: evil@example.org", "hi", "body", "test"),
            )
        round_ = Deliverer(mailing).run_once()
        (mail,) = smtp.inbox.wait_for(1)
        time.sleep(0.3)
    assert len(round_.sent) == 1 and len(round_.failed) == 1
    assert len(smtp.inbox.received) == 1
    assert mail.rcpt_tos == ["alice@example.org"]
    assert mail.message["Bcc"] is None and mail.message["X-Evil"] is None
    assert str(mail.message["Subject"]) == "[labdeck] INFO: Hello Bcc: evil@example.org X-Evil: 1"
    failed = [r for r in _rows(backend) if r.failed_at is not None]
    assert len(failed) == 1 and "control character" in failed[0].last_error


def test_slack_gets_json_and_a_dead_webhook_fails_for_good(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    alice = make_user("alice")
    with slack_peer() as hook:
        with pytest.raises(Invalid):  # plain http only to a host the operator named
            alert_settings.put_alert_settings(backend, alice, {"slack_webhook_url": hook.url()})
        backend = _with(backend, slack_http_hosts=frozenset({"127.0.0.1"}))
        alert_settings.put_alert_settings(
            backend,
            alice,
            {"slack_webhook_url": hook.url("alice"), "events": {"custom": {"slack": True}}},
        )
        alerts.send_alert(backend, alice, "disk <almost> full & rising", "98 %")
        round_ = Deliverer(backend).run_once()
        name, body = hook.wait_for(lambda n, b: b["kind"] == "alert_custom")
        alert_settings.put_alert_settings(
            backend, alice, {"slack_webhook_url": f"http://127.0.0.1:{hook.port}/nowhere"}
        )
        alerts.send_alert(backend, alice, "second")
        again = Deliverer(backend).run_once()
    assert name == "alice" and round_.sent
    assert body["text"].startswith("*[labdeck] INFO: disk &lt;almost&gt; full &amp; rising*")
    assert "98 %" in body["text"]
    assert again.failed, "a 404 from the webhook is permanent"
    (failed,) = [r for r in _rows(backend) if r.channel == "slack" and r.failed_at is not None]
    assert "answered 404" in failed.last_error


def test_two_deliverers_on_one_database_never_send_a_message_twice(
    database_url: str, backend: Backend, make_user: Callable[..., Actor]
) -> None:
    count = 120
    with backend.db.transaction() as session:
        for n in range(count):
            backend.notifier.send(
                session, Message("email", f"user{n}@example.org", f"message {n}", "body", "test")
            )
    with smtp_peer() as smtp:
        settings = dataclasses.replace(backend.settings, **smtp_settings(smtp.port))
        twins = [Backend(Database(database_url), settings) for _ in range(2)]
        deliverers = [Deliverer(twin) for twin in twins]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(deliverer: Deliverer) -> None:
            try:
                start.wait()
                for _ in range(200):
                    if not deliverer.run_once():
                        return
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(d,)) for d in deliverers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        received = smtp.inbox.wait_for(count)
        time.sleep(0.5)
        for twin in twins:
            twin.db.dispose()
    assert not errors, errors
    subjects = [str(m.message["Subject"]) for m in smtp.inbox.received]
    assert len(subjects) == count == len(set(subjects)) == len(received)
    with backend.db.reader() as session:
        unsent = session.scalar(
            select(func.count(Notification.id)).where(Notification.sent_at.is_(None))
        )
        attempts = session.scalar(select(func.sum(Notification.attempts)))
    assert unsent == 0 and attempts == count
