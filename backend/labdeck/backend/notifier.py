"""How the backend emits messages: one `Notifier` interface.

Services hand a `Message` to the notifier inside their own transaction. The
default `OutboxNotifier` writes it to the `notifications` table, so a change
that rolls back never sends anything; a deliverer (SMTP, Slack webhook)
drains the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from .models import Notification

CHANNELS = ("email", "slack")


def mail_note(backend_settings: object, what: str, address: str) -> dict[str, object]:
    """What an answer says about a mail it caused (`"mail"` of the invite and
    add-email answers): whether it is on its way, or that this server sends
    no mail at all (no `smtp_host`), so the caller passes the word on."""
    if getattr(backend_settings, "smtp_host", ""):
        return {"queued": True, "message": f"{what} is being emailed to {address}."}
    return {
        "queued": False,
        "message": f"This server has no SMTP server configured, so no email was sent to "
        f"{address}: {what} has to be passed on another way.",
    }


@dataclass(frozen=True)
class Message:
    channel: str
    recipient: str
    subject: str
    body: str
    kind: str


class Notifier(Protocol):
    def send(self, session: Session, message: Message) -> None: ...


class OutboxNotifier:
    """Records what would be sent, in the caller's transaction."""

    def send(self, session: Session, message: Message) -> None:
        if message.channel not in CHANNELS:
            raise ValueError(f"unknown channel {message.channel!r}")
        session.add(
            Notification(
                channel=message.channel,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
                kind=message.kind,
            )
        )
