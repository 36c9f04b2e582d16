"""Claiming and settling outbox rows, each in a short transaction of its own.

A deliverer claims due rows by stamping them with its name and a lease
deadline in one UPDATE … RETURNING. On PostgreSQL the rows are picked with
`FOR UPDATE SKIP LOCKED`, so two deliverers claiming at once take disjoint
rows, and a row claimed and leased is skipped by everyone else until its
lease runs out (the claimer died mid-send: the row is sent again, later, by
another). On SQLite every write transaction takes the file's write lock
first (`db`), which serializes the claims just as well.

Settling (`sent`, `retry`, `failed`) is conditional on still holding the
lease, and no network I/O happens while any of these transactions is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, or_, select, update

from ..context import Backend
from ..models import Notification, utcnow

_ROWS: Table = Notification.__table__  # type: ignore[assignment]
MAX_ERROR = 2000
# Waits between attempts double from `delivery_backoff` up to this.
MAX_BACKOFF_S = 3600.0


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    kind: str
    created_at: dt.datetime
    attempts: int


def _due(now: dt.datetime) -> list[ColumnElement[bool]]:
    c = _ROWS.c
    return [
        c.sent_at.is_(None),
        c.failed_at.is_(None),
        or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        or_(c.lease_until.is_(None), c.lease_until < now),
    ]


def claim(backend: Backend, owner: str, limit: int, lease_s: float) -> list[Claimed]:
    """Up to `limit` due rows, oldest first, now leased to `owner` for
    `lease_s` seconds; each claim counts as an attempt."""
    now = utcnow()
    c = _ROWS.c
    conditions = _due(now)
    with backend.db.statements() as conn:
        picked = select(c.id).where(and_(*conditions)).order_by(c.id).limit(limit)
        if conn.dialect.name == "postgresql":
            picked = picked.with_for_update(skip_locked=True)
        rows = conn.execute(
            update(_ROWS)
            .where(c.id.in_(picked.scalar_subquery()), *conditions)
            .values(
                lease_owner=owner,
                lease_until=now + dt.timedelta(seconds=lease_s),
                attempts=c.attempts + 1,
            )
            .returning(
                c.id, c.channel, c.recipient, c.subject, c.body, c.kind, c.created_at, c.attempts
            )
        ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda r: r.id)


def _held(row_id: int, owner: str) -> ColumnElement[bool]:
    return and_(_ROWS.c.id == row_id, _ROWS.c.lease_owner == owner, _ROWS.c.sent_at.is_(None))


def sent(backend: Backend, row_id: int, owner: str) -> bool:
    """The row went out; False when the lease had been lost meanwhile."""
    with backend.db.statements() as conn:
        done = conn.execute(
            update(_ROWS)
            .where(_held(row_id, owner))
            .values(sent_at=utcnow(), lease_owner="", lease_until=None, last_error="")
        )
        return done.rowcount == 1


def backoff(base_s: float, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones."""
    return float(min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempts - 1)))


def failed(
    backend: Backend,
    row: Claimed,
    owner: str,
    reason: str,
    *,
    permanent: bool,
    max_attempts: int,
    backoff_s: float,
) -> bool:
    """An attempt failed: try again after a backoff, or, when the failure is
    permanent or the attempts are spent, give up with the reason. True when
    the row is now given up."""
    now = utcnow()
    give_up = permanent or row.attempts >= max_attempts
    reason = reason[:MAX_ERROR]
    values: dict[str, object] = {"lease_owner": "", "lease_until": None, "last_error": reason}
    if give_up:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = now + dt.timedelta(seconds=backoff(backoff_s, row.attempts))
    with backend.db.statements() as conn:
        conn.execute(update(_ROWS).where(_held(row.id, owner)).values(**values))
    return give_up


def release(backend: Backend, owner: str) -> int:
    """Hand back every row `owner` still holds (a clean shutdown), so that
    another server need not wait for the leases to run out."""
    with backend.db.statements() as conn:
        done = conn.execute(
            update(_ROWS)
            .where(_ROWS.c.lease_owner == owner, _ROWS.c.sent_at.is_(None))
            .values(lease_owner="", lease_until=None, attempts=_ROWS.c.attempts - 1)
        )
        return int(done.rowcount)
