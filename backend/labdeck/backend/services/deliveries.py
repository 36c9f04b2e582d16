"""What became of the messages labdeck sent (the outbox, `notifications`),
for admin accounts ("configure system settings"): those that failed for
good, with the reason, and those still waiting for a retry.

A recipient is shown as it was addressed, except that a Slack webhook URL
(a secret: whoever has it may post to the channel) is cut to its host.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from .. import permissions
from ..access import account_subject, actor_user
from ..context import Actor, Backend
from ..errors import Invalid
from ..models import Notification
from ..paging import MAX_LIMIT, Page

STATES = ("failed", "retrying", "pending", "sent")


def _state(row: Notification) -> str:
    if row.sent_at is not None:
        return "sent"
    if row.failed_at is not None:
        return "failed"
    return "retrying" if row.attempts > 0 else "pending"


def _recipient(row: Notification) -> str:
    if row.channel == "slack":
        host = urlsplit(row.recipient).hostname or "?"
        return f"Slack webhook at {host}"
    return row.recipient


def delivery_view(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "recipient": _recipient(row),
        "subject": row.subject,
        "kind": row.kind,
        "state": _state(row),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "failed_at": row.failed_at.isoformat() if row.failed_at else None,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
    }


def list_deliveries(
    backend: Backend, actor: Actor, state: str | None = "failed", limit: Any = None
) -> dict[str, Any]:
    """The newest messages in `state` (all states when None or `"all"`), and
    whether this server sends mail at all. `limit` as the lists take it
    (`paging.Page.parse`: a query's text or a number, default 50)."""
    if state == "all":
        state = None
    if state is not None and state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}", field="state")
    if isinstance(limit, bool):
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    limit = Page.parse(limit).limit
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if state == "sent":
        query = query.where(Notification.sent_at.is_not(None))
    elif state == "failed":
        query = query.where(Notification.failed_at.is_not(None))
    elif state in ("retrying", "pending"):
        query = query.where(Notification.sent_at.is_(None), Notification.failed_at.is_(None))
        query = query.where(
            Notification.attempts > 0 if state == "retrying" else Notification.attempts == 0
        )
    with backend.db.reader() as session:
        permissions.require(
            "configure system settings", account_subject(actor_user(session, actor))
        )
        rows = list(session.scalars(query))
        return {
            "smtp_configured": bool(backend.settings.smtp_host),
            "deliveries": [delivery_view(row) for row in rows],
        }
