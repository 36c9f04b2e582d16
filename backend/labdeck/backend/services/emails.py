"""Email settings (F-EM-1..5): list, add with a verification link, verify,
resend, make primary, delete.

A verification link is a random token whose hash alone is stored, valid once
and until `settings.email_token_ttl`; opening it is proof enough, so
`verify_email` takes no actor (the link may be opened in another browser).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import Email, EmailToken, User, utcnow
from ..notifier import Message
from ..tokens import digest, new_secret

# However often "resend" is pressed, an address gets at most one message a
# minute: the address may be a stranger's, and labdeck must not spam it.
RESEND_COOLDOWN_S = 60
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
    requests cannot both make an address primary (PostgreSQL; SQLite writers
    are serialized already)."""
    session.execute(select(User.id).where(User.id == user.id).with_for_update())


def _own_email(session: Session, user: User, email_id: int) -> Email:
    email = session.get(Email, email_id)
    if email is None or email.user_id != user.id:
        raise NotFound("no email address with that id")
    return email


def _all_emails(session: Session, user: User) -> list[dict[str, Any]]:
    emails = session.scalars(select(Email).where(Email.user_id == user.id).order_by(Email.id))
    return [email_view(e) for e in emails]


def _send_verification(backend: Backend, session: Session, email: Email) -> None:
    token = new_secret()
    ttl = backend.settings.email_token_ttl
    session.add(EmailToken(email_id=email.id, token_hash=digest(token), expires_at=utcnow() + ttl))
    link = f"{backend.settings.base_url}labdeck/api/emails/verify?token={token}"
    hours = ttl.total_seconds() / 3600
    body = (
        f"Someone (hopefully you) added {email.address} to a labdeck account.\n\n"
        f"Open this link to verify the address (valid once, for {hours:g} hours):\n{link}\n\n"
        "If this was not you, ignore this message; the address stays unverified."
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


def list_emails(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        return _all_emails(session, actor_user(session, actor))


def add_email(backend: Backend, actor: Actor, address: str) -> dict[str, Any]:
    """Unverified until its link is opened; the account's first address is
    its primary one (F-EM-3)."""
    clean = validate.email(address)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        _lock_account(session, user)
        owner = session.scalar(select(Email.user_id).where(Email.address == clean))
        if owner == user.id:
            raise Conflict(f"{clean} is already one of your addresses", field="address")
        if owner is not None:
            raise Conflict(f"{clean} is already used by another account", field="address")
        has_any = session.scalar(select(func.count(Email.id)).where(Email.user_id == user.id))
        email = Email(
            user_id=user.id, address=clean, verified=False, is_primary=not has_any, login_methods=[]
        )
        session.add(email)
        try:
            session.flush()
        except IntegrityError:
            # Another account added the same address a moment ago.
            raise Conflict(f"{clean} is already used by another account", field="address") from None
        _send_verification(backend, session, email)
        return email_view(email)


def verify_email(backend: Backend, token: str) -> dict[str, Any]:
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LEN:
        raise NotFound("this verification link is not valid")
    with backend.db.transaction() as session:
        row = session.scalar(select(EmailToken).where(EmailToken.token_hash == digest(token)))
        if row is None:
            raise NotFound(
                "this verification link is not valid (a newer message may have replaced it)"
            )
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
        row.used_at = now
        email.verified = True
        session.execute(
            delete(EmailToken).where(EmailToken.email_id == email.id, EmailToken.id != row.id)
        )
        return email_view(email)


def resend_verification(backend: Backend, actor: Actor, email_id: int) -> dict[str, Any]:
    """A fresh link; every earlier link of that address stops working."""
    wanted = _email_id(email_id)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        email = _own_email(session, user, wanted)
        if email.verified:
            raise Conflict(f"{email.address} is already verified")
        latest = session.scalar(
            select(func.max(EmailToken.expires_at)).where(EmailToken.email_id == email.id)
        )
        if latest is not None:
            sent_at = latest - backend.settings.email_token_ttl
            waited = (utcnow() - sent_at).total_seconds()
            if waited < RESEND_COOLDOWN_S:
                raise Conflict(
                    f"a verification message went to {email.address} moments ago; "
                    f"try again in {int(RESEND_COOLDOWN_S - waited) + 1} s"
                )
        session.execute(delete(EmailToken).where(EmailToken.email_id == email.id))
        _send_verification(backend, session, email)
        return email_view(email)


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
        email = _own_email(session, user, wanted)
        if email.is_primary:
            raise Conflict(f"{email.address} is your primary address; set another primary first")
        session.delete(email)
