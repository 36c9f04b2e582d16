"""Invitations by email (F-TM-3): invite, see mine, accept, decline, cancel.

An invitation belongs to an address, and only an account that has VERIFIED
that address may see, accept or decline it; to anyone else it does not
exist (404), so guessing ids reveals nothing. The emailed link opens the lab,
where the invitee finds the invitation once signed in with that address; a
random token is still stored (hashed) so that each invitation carries an
unguessable identity of its own.

Expiry is not written by a sweeper: a pending invitation past `expires_at`
reads as `expired`, and is treated as such everywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from .. import locks, validate
from ..access import actor_user, team_subject, visible_team
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import CustomRole, Email, Invitation, Membership, Team, User, utcnow
from ..notifier import Message, mail_note
from ..permissions import require
from ..tokens import digest, new_secret
from .orgs import join_org
from .teams import require_role_grant, resolve_role, role_name

_Inviter = aliased(User)

if TYPE_CHECKING:
    from typing_extensions import Unpack


def invitation_query() -> Select[Unpack[tuple[Any, ...]]]:
    """Invitations with what their view needs, in one statement."""
    return (
        select(
            Invitation,
            Team.name.label("team_name"),
            _Inviter.username.label("inviter"),
            CustomRole.name.label("custom_role"),
        )
        .join(Team, Team.id == Invitation.team_id)
        .outerjoin(_Inviter, _Inviter.id == Invitation.invited_by)
        .outerjoin(CustomRole, CustomRole.id == Invitation.custom_role_id)
    )


def state_of(invitation: Invitation, now: dt.datetime) -> str:
    if invitation.state == "pending" and invitation.expires_at <= now:
        return "expired"
    return invitation.state


def invitation_view(row: Any, now: dt.datetime) -> dict[str, Any]:
    inv: Invitation = row[0]
    return {
        "id": inv.id,
        "team": row.team_name,
        "email": inv.email,
        "role": role_name(inv.role, row.custom_role),
        "invited_by": row.inviter,
        "expires_at": inv.expires_at.isoformat(),
        "created_at": inv.created_at.isoformat(),
        "state": state_of(inv, now),
    }


def _view_of(session: Session, invitation_id: int) -> dict[str, Any]:
    session.flush()
    row = session.execute(invitation_query().where(Invitation.id == invitation_id)).one()
    return invitation_view(row, utcnow())


def _invitation_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid("invitation id must be a positive whole number", field="invitation_id")
    return value


def invite(backend: Backend, actor: Actor, team: str, email: str, role: str) -> dict[str, Any]:
    address = validate.email(email, "email")
    validate.text(role, "role", max_len=64, min_len=1)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        subject = team_subject(session, found, user)
        require("invite members", subject)
        base, custom = resolve_role(session, found, role)
        require_role_grant(subject, base, custom)
        member = session.scalar(
            select(Membership.user_id)
            .join(Email, Email.user_id == Membership.user_id)
            .where(
                Membership.team_id == found.id,
                Email.address == address,
                Email.verified.is_(True),
            )
        )
        if member is not None:
            raise Conflict(f"{address} belongs to a member of {found.name}", field="email")
        # Two admins inviting the same address at once must not both pass the check below.
        locks.hold(session, locks.team(found.id))
        now = utcnow()
        open_one = session.scalar(
            select(Invitation.id).where(
                Invitation.team_id == found.id,
                Invitation.email == address,
                Invitation.state == "pending",
                Invitation.expires_at > now,
            )
        )
        if open_one is not None:
            raise Conflict(
                f"{address} already has a pending invitation to {found.name}; "
                "cancel it to invite again",
                field="email",
            )
        invitation = Invitation(
            team_id=found.id,
            email=address,
            role=base,
            custom_role_id=custom.id if custom else None,
            invited_by=user.id,
            token_hash=digest(new_secret()),
            state="pending",
            expires_at=now + backend.settings.invitation_ttl,
        )
        session.add(invitation)
        session.flush()
        lab = backend.link("lab")
        seen = backend.link("labdeck/api/me/invitations")
        shown_role = role_name(base, custom.name if custom else None)
        backend.notifier.send(
            session,
            Message(
                channel="email",
                recipient=address,
                subject=f"You are invited to join the team {found.name} on labdeck",
                body=(
                    f"{user.username} invited you to join the team {found.name} "
                    f"as {shown_role}.\n\n"
                    f"Open {lab}, sign in with an account that has verified {address}, "
                    "and accept the invitation under Teams > Invitations in the labdeck "
                    f"panel. Your pending invitations: {seen}\n\nThe invitation expires on "
                    f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC."
                ),
                kind="team_invitation",
            ),
        )
        view = _view_of(session, invitation.id)
        view["mail"] = mail_note(backend.settings, "the invitation", address)
        return view


def list_my_invitations(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        now = utcnow()
        mine = select(Email.address).where(Email.user_id == user.id, Email.verified.is_(True))
        rows = session.execute(
            invitation_query()
            .where(
                Invitation.email.in_(mine),
                Invitation.state == "pending",
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at, Invitation.id)
        ).all()
        return [invitation_view(row, now) for row in rows]


def _addressed_to(session: Session, user: User, invitation_id: int) -> Invitation:
    """The invitation, its row locked (so it is answered once), if it is
    addressed to one of the user's verified emails; NotFound for anyone
    else, exactly as for a missing id."""
    invitation = session.get(Invitation, invitation_id, with_for_update=True)
    if invitation is not None:
        verified = session.scalar(
            select(Email.id).where(
                Email.user_id == user.id,
                Email.address == invitation.email,
                Email.verified.is_(True),
            )
        )
        if verified is not None:
            return invitation
    raise NotFound("no invitation with that id")


def _require_open(invitation: Invitation) -> None:
    state = state_of(invitation, utcnow())
    if state == "expired":
        raise Conflict("this invitation has expired; ask a team admin to invite you again")
    if state != "pending":
        raise Conflict(f"this invitation was already {state}")


def accept_invitation(backend: Backend, actor: Actor, invitation_id: int) -> dict[str, Any]:
    """Join the team with the invited role (and its organization), holding
    the team's lock and then the account's (`locks`)."""
    number = _invitation_id(invitation_id)
    try:
        with backend.db.transaction() as session:
            team_id = session.scalar(select(Invitation.team_id).where(Invitation.id == number))
            user = actor_user(session, actor)
            locks.hold(session, *([locks.team(team_id)] if team_id else []), locks.user(user.id))
            user = actor_user(session, actor)
            invitation = _addressed_to(session, user, number)
            _require_open(invitation)
            team = session.get(Team, invitation.team_id)
            assert team is not None
            if session.get(Membership, (team.id, user.id)) is not None:
                raise Conflict(f"you are already a member of {team.name}")
            session.add(
                Membership(
                    team_id=team.id,
                    user_id=user.id,
                    role=invitation.role,
                    custom_role_id=invitation.custom_role_id,
                )
            )
            join_org(session, team.org_id, user.id)
            invitation.state = "accepted"
            return _view_of(session, invitation.id)
    except IntegrityError:
        raise Conflict("you are already a member of that team") from None


def decline_invitation(backend: Backend, actor: Actor, invitation_id: int) -> dict[str, Any]:
    number = _invitation_id(invitation_id)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        invitation = _addressed_to(session, user, number)
        _require_open(invitation)
        invitation.state = "declined"
        return _view_of(session, invitation.id)


def cancel_invitation(
    backend: Backend, actor: Actor, team: str, invitation_id: int
) -> dict[str, Any]:
    number = _invitation_id(invitation_id)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require("invite members", team_subject(session, found, user))
        invitation = session.get(Invitation, number, with_for_update=True)
        if invitation is None or invitation.team_id != found.id:
            raise NotFound(f"{found.name} has no invitation with that id")
        _require_open(invitation)
        invitation.state = "cancelled"
        return _view_of(session, invitation.id)
