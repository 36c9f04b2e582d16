"""Every invariant that concurrent writers could break, and the one lock
that keeps each: the only place that says which lock guards what.

Why locks at all. SQLite runs one writer at a time (`db`: every write
transaction begins IMMEDIATE), so a check and the write that depends on it
can never interleave there. PostgreSQL runs writers side by side under READ
COMMITTED: two transactions that each count the admins (or sum the storage
used) and then write can both pass a check that only one of them should.
So every writer of one invariant takes the same lock BEFORE it reads what
its check rests on, and reads it in a later statement than the one that
took the lock (each READ COMMITTED statement sees what was committed when
it began, so it then sees everything the previous holder wrote).

The locks are PostgreSQL transaction-scoped advisory locks keyed by
(scope, id): they need no row to lock (a quota owner, an email address) and
are released by commit or rollback. On SQLite `hold` does nothing.

One order. A transaction that holds several takes them in this order:
TEAM, then ORG, then USER, then ADDRESS; within a scope by ascending id
(`hold` sorts them, and refuses a key below one it already holds). So no
two writers ever wait on each other in a circle.

Each invariant, the lock that keeps it, and who takes it:

- A team keeps an admin who can sign in (F-TM-4).
  TEAM(team), then USER(member): `members.change_role`,
  `members.remove_member`, `teams.delete_team`; `account.delete_account`
  takes TEAM of every team the account is in, then its USER.
- An account's team memberships and organization memberships agree
  (F-TM-2), and no account joins a team while it is being deleted.
  USER(account), after TEAM when there is one: `members.add_member`,
  `invitations.accept_invitation`, `teams.create_team`, `orgs.create_org`,
  and the services above.
- Storage stays within the owner's quota (F-US-7, F-TS-5).
  TEAM(team), or USER(owner) of a personal project: `ingest.write_samples`
  (taken by its first statement: `ingest._TARGET_LOCKING`),
  `artifacts.create_artifact`.
- A series' count, its rollups and the storage used equal the points
  stored, however often a batch is resent at once.
  The quota lock above: writes into one run never overlap, so the check
  for points already stored is exact: `ingest.write_samples`.
- One pending invitation per team and address: TEAM(team), `invitations.invite`.
- A team's alert switches are one row each: TEAM(team),
  `team_settings.patch_settings`.
- An organization keeps an administrator: ORG(org), `orgs.set_org_member_access`.
- An account's alert switches are one row each, and a custom alert repeated
  inside its `wait_duration` is sent once: USER(account),
  `alert_settings.put_alert_settings`, `alerting.raise_custom_alert`.
- One primary address per account (F-EM-3): USER(account),
  `emails.add_email`, `emails.make_primary`, `emails.delete_email`.
- An address is verified by at most one account (F-EM-5; a unique index
  backs it), and verifying it drops every other account's claim:
  USER of every account claiming it, ascending: `emails.verify_email`,
  `identity.create_user` (an operator's address counts as verified).
- Verification mails stay within their limits per account and per
  address: USER(account), then ADDRESS(address): `emails.add_email`,
  `emails.resend_verification`.
- Single-use rows are used once (an invitation's answer, a GitHub OAuth
  `state`): that row, `SELECT … FOR UPDATE`, after any lock above:
  `invitations._addressed_to`, `invitations.cancel_invitation`,
  `github.complete_connect`.

Rule for callers: take the locks before changing anything and before
reading what the decision rests on. `hold` flushes and expires the ORM
session's objects, so what was loaded before (to learn an id) is read again.
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, case, func, text
from sqlalchemy.orm import Session

# The first key of every labdeck advisory lock starts with "ld", so that
# other applications sharing the database keep their own key space.
_NAMESPACE = 0x6C64 << 8
_HELD = "labdeck_locks"


class Scope(enum.IntEnum):
    """What a lock is about; the value is also the order of acquisition."""

    TEAM = 1
    ORG = 2
    USER = 3
    ADDRESS = 4


@dataclass(frozen=True, order=True)
class Key:
    scope: Scope
    id: int


def team(team_id: int) -> Key:
    return Key(Scope.TEAM, team_id)


def org(org_id: int) -> Key:
    return Key(Scope.ORG, org_id)


def user(user_id: int) -> Key:
    return Key(Scope.USER, user_id)


def address(email: str) -> Key:
    """An address has no id of its own: a stable 31-bit hash stands in (two
    addresses sharing one only wait for each other)."""
    return Key(Scope.ADDRESS, zlib.crc32(email.encode()) & 0x7FFFFFFF)


def quota_owner(team_id: int | None, user_id: int | None) -> Key:
    """The quota lock: the team of a team project, else the project's owner."""
    if team_id is not None:
        return team(team_id)
    assert user_id is not None
    return user(user_id)


_LOCK = text("SELECT pg_advisory_xact_lock(:scope, :id)")


class LockOrderError(RuntimeError):
    """A programming error: a lock asked for below one already held."""


def hold(session: Session, *keys: Key) -> None:
    """Take `keys` (in the one order) until the transaction ends."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    # A session is one transaction here (`db.Database.transaction`).
    held: set[Key] = session.info.setdefault(_HELD, set())
    wanted = sorted(set(keys) - held)
    if wanted and held and wanted[0] < max(held):
        raise LockOrderError(f"lock {wanted[0]} asked for after {max(held)}")
    session.flush()
    for key in wanted:
        conn.execute(_LOCK, {"scope": _NAMESPACE | key.scope, "id": key.id})
        held.add(key)
    session.expire_all()


def quota_lock_column(team_id: ColumnElement[int], owner_id: ColumnElement[int]) -> ColumnElement:
    """`quota_owner`'s lock as a column of a PostgreSQL SELECT: taken while
    the row that names the owner is read, so a hot path pays no extra
    statement for it. Nothing is locked when the row has no project."""
    scope = case(
        (team_id.is_not(None), bindparam("lock_team", _NAMESPACE | Scope.TEAM)),
        else_=bindparam("lock_user", _NAMESPACE | Scope.USER),
    )
    return func.pg_advisory_xact_lock(scope, func.coalesce(team_id, owner_id))
