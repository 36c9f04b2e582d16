"""Email settings (F-EM-1..5): list, add with a verification link, verify,
resend, make primary, delete.

An address added to an account is a claim until it is verified; several
accounts may claim one address, and it belongs to the one that verifies it
(F-EM-5): verifying binds it (a unique index over verified addresses backs
that) and drops every other account's claim and link. So a claim never
keeps an address's owner from it, and adding an address answers the same
whether or not another account has it: nothing tells anyone which
addresses have accounts. An address verified elsewhere gets no mail at all.

A verification link is a random token whose hash alone is stored, valid once
and until `settings.email_token_ttl`; opening it is proof enough, so
`verify_email` takes no actor (the link may be opened in another browser).
The mail names the account the address would join.

Verification mails go to addresses that may be a stranger's, so they are
rate-limited per address (one a minute, whichever accounts ask; and
`ADDRESS_DAILY` a day from any one account, so that no account can use up
an address's mails for its owner) and per account (`ACCOUNT_HOURLY` an
hour), counted in `verification_mails` whether or not the mail was
withheld; adding, deleting and re-adding an address counts each time. A
refusal answers 429 with the seconds to wait.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import locks, validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound, RateLimited
from ..models import Email, EmailToken, User, VerificationMail, utcnow
from ..notifier import Message, mail_note
from ..tokens import digest, new_secret

ADDRESS_COOLDOWN_S = 60
ADDRESS_DAILY = 5
ACCOUNT_HOURLY = 10
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
MAX_TOKEN_LEN = 128


def email_view(email: Email) -> dict[str, Any]:
    return {
        "id": email.id,
        "address": email.address,
        "primary": email.is_primary,
        "verified": email.verified,
        "login_methods": list(email.login_methods),
    }


def _email_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("email_id must be a whole number", field="email_id")
    return value


def _lock_account(session: Session, user: User) -> None:
    """Serializes changes to one account's addresses, so that two concurrent
    requests cannot both make an address primary (`locks`)."""
    locks.hold(session, locks.user(user.id))


def lock_claimants(session: Session, address: str) -> None:
    """The locks of every account that claims `address`, before binding it."""
    claimants = session.scalars(select(Email.user_id).where(Email.address == address))
    locks.hold(session, *(locks.user(u) for u in claimants))


def _own_email(session: Session, user: User, email_id: int) -> Email:
    email = session.get(Email, email_id)
    if email is None or email.user_id != user.id:
        raise NotFound("no email address with that id")
    return email


def _all_emails(session: Session, user: User) -> list[dict[str, Any]]:
    emails = session.scalars(select(Email).where(Email.user_id == user.id).order_by(Email.id))
    return [email_view(e) for e in emails]


def _wait(sent: list[dt.datetime], limit: int, window: dt.timedelta, now: dt.datetime) -> int:
    """Seconds until one more send fits `limit` sends per `window` (0: now)."""
    recent = sorted(t for t in sent if t > now - window)
    if len(recent) < limit:
        return 0
    return int((recent[-limit] + window - now).total_seconds()) + 1


def _sent(session: Session, which: Any, now: dt.datetime) -> list[Any]:
    """(sent_at, account) of the verification mails of the last day that `which` selects."""
    return list(
        session.execute(
            select(VerificationMail.sent_at, VerificationMail.user_id).where(
                which, VerificationMail.sent_at > now - _DAY
            )
        )
    )


def _allow_mail(session: Session, user: User, address: str, now: dt.datetime) -> None:
    """Refuse a verification mail past a limit; the caller holds the
    account's lock and then the address's (`locks`)."""
    locks.hold(session, locks.user(user.id), locks.address(address))
    to_address = _sent(session, VerificationMail.address == address, now)
    cooldown = dt.timedelta(seconds=ADDRESS_COOLDOWN_S)
    wait = _wait([t for t, _ in to_address], 1, cooldown, now)
    if wait:
        raise RateLimited(
            f"a verification message went to {address} moments ago; try again in {wait} s",
            retry_after=wait,
        )
    mine = [t for t, sender in to_address if sender == user.id]
    wait = _wait(mine, ADDRESS_DAILY, _DAY, now)
    if wait:
        raise RateLimited(
            f"this account had {ADDRESS_DAILY} verification messages sent to {address} today; "
            f"try again in {wait} s",
            retry_after=wait,
        )
    by_account = [t for t, sender in _sent(session, VerificationMail.user_id == user.id, now)]
    wait = _wait(by_account, ACCOUNT_HOURLY, _HOUR, now)
    if wait:
        raise RateLimited(
            f"this account sent {ACCOUNT_HOURLY} verification messages in the last hour; "
            f"try again in {wait} s",
            retry_after=wait,
        )


def _verified_elsewhere(session: Session, email: Email) -> bool:
    return (
        session.scalar(
            select(Email.id).where(
                Email.address == email.address,
                Email.verified.is_(True),
                Email.user_id != email.user_id,
            )
        )
        is not None
    )


def _send_verification(backend: Backend, session: Session, user: User, email: Email) -> None:
    """A fresh link for `email`, within the limits; none at all (but counted
    the same) when another account has verified the address."""
    now = utcnow()
    _allow_mail(session, user, email.address, now)
    session.add(VerificationMail(address=email.address, user_id=user.id, sent_at=now))
    session.execute(delete(VerificationMail).where(VerificationMail.sent_at <= now - _DAY))
    session.execute(delete(EmailToken).where(EmailToken.email_id == email.id))
    if _verified_elsewhere(session, email):
        return
    token = new_secret()
    ttl = backend.settings.email_token_ttl
    session.add(EmailToken(email_id=email.id, token_hash=digest(token), expires_at=now + ttl))
    link = backend.link(f"labdeck/api/emails/verify?token={token}")
    hours = ttl.total_seconds() / 3600
    body = (
        f"Someone (hopefully you) added {email.address} to the labdeck account "
        f"'{user.username}'.\n\n"
        f"Open this link to verify the address for that account (valid once, for {hours:g} "
        f"hours):\n{link}\n\n"
        "If this was not you, or that is not your account, ignore this message; "
        "the address stays unverified."
    )
    backend.notifier.send(
        session,
        Message(
            channel="email",
            recipient=email.address,
            subject="Verify your email address for labdeck",
            body=body,
            kind="email_verification",
        ),
    )


def bind(session: Session, email: Email) -> None:
    """Make `email` its address's verified one: every other account's claim
    of the address goes, with its links; where that claim was the account's
    primary, the account's oldest other address becomes primary. The caller
    holds the locks of the accounts that claim the address (`lock_claimants`)."""
    email.verified = True
    others = list(
        session.scalars(select(Email).where(Email.address == email.address, Email.id != email.id))
    )
    for other in others:
        session.delete(other)
    # The unique indexes see the deletions before the new primaries.
    session.flush()
    for other in others:
        if other.is_primary:
            heir = session.scalar(
                select(Email).where(Email.user_id == other.user_id).order_by(Email.id).limit(1)
            )
            if heir is not None:
                heir.is_primary = True
    session.flush()


def list_emails(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        return _all_emails(session, actor_user(session, actor))


def add_email(backend: Backend, actor: Actor, address: str) -> dict[str, Any]:
    """Unverified until its link is opened; the account's first address is
    its primary one (F-EM-3). The answer is the same whether or not another
    account has the address."""
    clean = validate.email(address)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        locks.hold(session, locks.user(user.id), locks.address(clean))
        mine = session.scalar(
            select(Email.id).where(Email.user_id == user.id, Email.address == clean)
        )
        if mine is not None:
            raise Conflict(f"{clean} is already one of your addresses", field="address")
        has_any = session.scalar(select(func.count(Email.id)).where(Email.user_id == user.id))
        email = Email(
            user_id=user.id, address=clean, verified=False, is_primary=not has_any, login_methods=[]
        )
        session.add(email)
        session.flush()
        _send_verification(backend, session, user, email)
        return {
            **email_view(email),
            "mail": mail_note(backend.settings, "the verification link", email.address),
        }


def verify_email(backend: Backend, token: str) -> dict[str, Any]:
    """Binds the address to the account whose link this is (`bind`)."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LEN:
        raise NotFound("this verification link is not valid")
    hashed = digest(token)
    gone = NotFound(
        "this verification link is not valid (a newer message may have replaced it, or "
        "another account verified the address)"
    )
    try:
        with backend.db.transaction() as session:
            found = session.execute(
                select(Email.address)
                .join(EmailToken, EmailToken.email_id == Email.id)
                .where(EmailToken.token_hash == hashed)
            ).scalar_one_or_none()
            if found is None:
                raise gone
            lock_claimants(session, found)
            row = session.scalar(select(EmailToken).where(EmailToken.token_hash == hashed))
            if row is None:
                raise gone
            if row.used_at is not None:
                raise Invalid("this verification link was already used", field="token")
            now = utcnow()
            if row.expires_at <= now:
                raise Invalid(
                    "this verification link has expired; send a new one from your email settings",
                    field="token",
                )
            email = session.get(Email, row.email_id)
            assert email is not None
            if _verified_elsewhere(session, email):
                raise Conflict(
                    f"{email.address} is verified by another labdeck account; "
                    "remove it there before verifying it here"
                )
            row.used_at = now
            session.execute(
                delete(EmailToken).where(EmailToken.email_id == email.id, EmailToken.id != row.id)
            )
            bind(session, email)
            return email_view(email)
    except IntegrityError:
        # Another account verified the address at the same moment.
        raise Conflict("another labdeck account verified this address a moment ago") from None


def resend_verification(backend: Backend, actor: Actor, email_id: int) -> dict[str, Any]:
    """A fresh link; every earlier link of that address stops working."""
    wanted = _email_id(email_id)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        _lock_account(session, user)
        email = _own_email(session, user, wanted)
        if email.verified:
            raise Conflict(f"{email.address} is already verified")
        _send_verification(backend, session, user, email)
        return {
            **email_view(email),
            "mail": mail_note(backend.settings, "the verification link", email.address),
        }


def make_primary(backend: Backend, actor: Actor, email_id: int) -> list[dict[str, Any]]:
    """Returns every address, since two of them change."""
    wanted = _email_id(email_id)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        _lock_account(session, user)
        email = _own_email(session, user, wanted)
        if not email.verified:
            raise Conflict(f"verify {email.address} before making it your primary address")
        if not email.is_primary:
            for current in session.scalars(
                select(Email).where(Email.user_id == user.id, Email.is_primary.is_(True))
            ):
                current.is_primary = False
            # The unique index allows one primary per account: the demotion
            # must reach the database before the promotion does.
            session.flush()
            email.is_primary = True
            session.flush()
        return _all_emails(session, user)


def delete_email(backend: Backend, actor: Actor, email_id: int) -> None:
    wanted = _email_id(email_id)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        _lock_account(session, user)
        email = _own_email(session, user, wanted)
        if email.is_primary:
            raise Conflict(f"{email.address} is your primary address; set another primary first")
        session.delete(email)
