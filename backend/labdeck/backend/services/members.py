"""Team members and their roles (F-TM-2, F-TM-4, F-TM-7).

A team always keeps an admin who can sign in: every change that would take
away the last one is refused. Every such change holds the team's lock and
then the member's (`locks`, the one place that says so) before it counts
the admins, so no interleaving of demotions, removals, departures and
account deletions can leave a team without one.

Service accounts hold a membership (that is what lets them log runs) but
are not people: they are listed and removed through `service_accounts`, not
here. Removing a member deletes the membership only; the runs they logged
keep their `created_by` and stay in the team's projects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import locks, validate
from ..access import actor_user, team_subject, visible_team
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import CustomRole, Email, Invitation, Membership, OrgMember, Team, User, utcnow
from ..paging import Page, page_result
from ..permissions import require
from ..roles import AccountType, TeamRole, is_service_account, is_team_admin
from .invitations import invitation_query, invitation_view
from .orgs import join_org, leave_org_if_unused
from .teams import require_role_grant, resolve_role, role_name

if TYPE_CHECKING:
    from typing_extensions import Unpack


def members_query(team: Team) -> Select[Unpack[tuple[Any, ...]]]:
    return (
        select(
            User.id,
            User.username,
            User.name,
            Email.address,
            Membership.role,
            Membership.registry_admin,
            CustomRole.name.label("custom_role"),
            OrgMember.models_access,
            OrgMember.weave_access,
        )
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Email, (Email.user_id == User.id) & Email.is_primary.is_(True))
        .outerjoin(CustomRole, CustomRole.id == Membership.custom_role_id)
        .outerjoin(OrgMember, (OrgMember.user_id == User.id) & (OrgMember.org_id == team.org_id))
        .where(Membership.team_id == team.id, User.account_type != AccountType.SERVICE)
    )


def _members_page_query(after: bool) -> Select[Any]:
    """`members_query` ordered by user name, `:limit` rows (after `:after`): the page
    is picked from memberships and users alone, then joined to emails, custom roles
    and organization access, so a big team costs `limit` of those lookups rather
    than one per member. (A user has at most one primary email and one
    organization membership, so the joins never add rows to the page.)"""
    picked = (
        select(
            User.id,
            User.username,
            User.name,
            Membership.role,
            Membership.registry_admin,
            Membership.custom_role_id,
        )
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == bindparam("team_id"), User.account_type != AccountType.SERVICE)
    )
    if after:
        picked = picked.where(User.username > bindparam("after"))
    page = picked.order_by(User.username).limit(bindparam("limit", type_=Integer)).subquery("page")
    return (
        select(
            page.c.id,
            page.c.username,
            page.c.name,
            Email.address,
            page.c.role,
            page.c.registry_admin,
            CustomRole.name.label("custom_role"),
            OrgMember.models_access,
            OrgMember.weave_access,
        )
        .select_from(page)
        .outerjoin(Email, (Email.user_id == page.c.id) & Email.is_primary.is_(True))
        .outerjoin(CustomRole, CustomRole.id == page.c.custom_role_id)
        .outerjoin(
            OrgMember, (OrgMember.user_id == page.c.id) & (OrgMember.org_id == bindparam("org_id"))
        )
        .order_by(page.c.username)
    )


# Built once: constructing this statement costs more than running it.
_MEMBERS_FIRST_PAGE = _members_page_query(after=False)
_MEMBERS_NEXT_PAGE = _members_page_query(after=True)


def member_row_view(row: Any) -> dict[str, Any]:
    return {
        "username": row.username,
        "name": row.name,
        "email": row.address,
        "role": role_name(row.role, row.custom_role),
        "models_access": row.models_access,
        "weave_access": row.weave_access,
        "registry_admin": row.registry_admin,
    }


def member_view(session: Session, team: Team, user_id: int) -> dict[str, Any]:
    session.flush()
    return member_row_view(session.execute(members_query(team).where(User.id == user_id)).one())


def pending_invitations(session: Session, team: Team) -> list[dict[str, Any]]:
    """The team's open invitations, in the shape of `invitations.invitation_view`."""
    now = utcnow()
    rows = session.execute(
        invitation_query()
        .where(
            Invitation.team_id == team.id,
            Invitation.state == "pending",
            Invitation.expires_at > now,
        )
        .order_by(Invitation.created_at, Invitation.id)
    ).all()
    return [invitation_view(row, now) for row in rows]


def list_members(
    backend: Backend, actor: Actor, team: str, limit: Any = None, cursor: Any = None
) -> dict[str, Any]:
    """Members by user name, a page at a time; the pending invitations come
    with the first page only, so a client that concatenates pages sees each once."""
    page = Page.parse(limit, cursor)
    # A cursor is a user name: printable text (no NUL, no lone surrogate).
    if page.after is not None and not (isinstance(page.after, str) and page.after.isprintable()):
        raise Invalid("cursor is not one this server gave out", field="cursor")
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        params = {"team_id": found.id, "org_id": found.org_id, "limit": page.limit + 1}
        if page.after is None:
            rows = list(session.execute(_MEMBERS_FIRST_PAGE, params))
        else:
            rows = list(session.execute(_MEMBERS_NEXT_PAGE, params | {"after": page.after}))
        result = page_result([member_row_view(r) for r in rows], rows, page, lambda r: r.username)
        result["invitations"] = pending_invitations(session, found) if page.after is None else []
        return result


def _target(session: Session, team: Team, username: Any) -> tuple[User, Membership]:
    name = validate.username(username)
    row = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.team_id == team.id,
            User.username == name,
            User.account_type != AccountType.SERVICE,
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"{name} is not a member of {team.name}")
    return row[0], row[1]


def sole_admin_of(session: Session, user_id: int, team_ids: Iterable[int]) -> list[Team]:
    """The teams among `team_ids` that would have no admin who can sign in
    (service accounts and deleted accounts cannot) without `user_id`. The
    caller holds those teams' locks (`locks`), so the count stays true until
    it commits."""
    ids = list(team_ids)
    if not ids:
        return []
    others = (
        select(Membership.team_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.team_id.in_(ids),
            Membership.role == TeamRole.ADMIN,
            Membership.user_id != user_id,
            User.deleted.is_(False),
            User.account_type != AccountType.SERVICE,
        )
    )
    return list(
        session.scalars(
            select(Team).where(Team.id.in_(ids), Team.id.not_in(others)).order_by(Team.name)
        )
    )


def _keep_an_admin(session: Session, team: Team, leaving: User) -> None:
    if sole_admin_of(session, leaving.id, [team.id]):
        raise Conflict(
            f"{leaving.username} is the last admin of {team.name}; "
            "a team always keeps at least one admin, so make someone else admin first"
        )


def _locked_team(session: Session, actor: Actor, team: str, username: str) -> tuple[User, Team]:
    """The actor and the team, read after taking the team's lock and the
    lock of the account named `username` (`locks`: TEAM, then USER)."""
    found = visible_team(session, actor_user(session, actor), team)
    target = session.scalar(select(User.id).where(User.username == username))
    keys = [locks.team(found.id)] + ([locks.user(target)] if target is not None else [])
    locks.hold(session, *keys)
    user = actor_user(session, actor)
    return user, visible_team(session, user, team)


def add_member(
    backend: Backend, actor: Actor, team: str, username: str, role: str
) -> dict[str, Any]:
    """Add an existing account directly, without an invitation (self-hosted
    admins often know their colleagues' accounts already)."""
    name = validate.username(username)
    validate.text(role, "role", max_len=64, min_len=1)
    try:
        with backend.db.transaction() as session:
            user, found = _locked_team(session, actor, team, name)
            subject = team_subject(session, found, user)
            require("add team members", subject)
            base, custom = resolve_role(session, found, role)
            require_role_grant(subject, base, custom)
            target = session.scalar(select(User).where(User.username == name))
            if target is None or target.deleted or is_service_account(target.account_type):
                raise NotFound(f"no user named {name!r}")
            if session.get(Membership, (found.id, target.id)) is not None:
                raise Conflict(f"{name} is already a member of {found.name}", field="username")
            session.add(
                Membership(
                    team_id=found.id,
                    user_id=target.id,
                    role=base,
                    custom_role_id=custom.id if custom else None,
                )
            )
            join_org(session, found.org_id, target.id)
            return member_view(session, found, target.id)
    except IntegrityError:
        raise Conflict(f"{name} is already a member of {team}", field="username") from None


def change_role(
    backend: Backend, actor: Actor, team: str, username: str, role: str
) -> dict[str, Any]:
    name = validate.username(username)
    validate.text(role, "role", max_len=64, min_len=1)
    with backend.db.transaction() as session:
        user, found = _locked_team(session, actor, team, name)
        subject = team_subject(session, found, user)
        require("change member roles", subject)
        target, member = _target(session, found, username)
        base, custom = resolve_role(session, found, role)
        if custom is not None:
            require("assign custom roles", subject)
        was_admin, becomes_admin = is_team_admin(member.role), is_team_admin(base)
        if was_admin != becomes_admin:
            require("add or remove team admins", subject)
        if was_admin and not becomes_admin:
            _keep_an_admin(session, found, target)
        member.role = base
        member.custom_role_id = custom.id if custom else None
        return member_view(session, found, target.id)


def remove_member(backend: Backend, actor: Actor, team: str, username: str) -> None:
    """Anyone may leave a team (removing themselves needs no permission);
    removing someone else needs "remove team members", and an admin also
    "add or remove team admins". The last admin can do neither."""
    name = validate.username(username)
    with backend.db.transaction() as session:
        user, found = _locked_team(session, actor, team, name)
        subject = team_subject(session, found, user)
        target, member = _target(session, found, name)
        if target.id != user.id:
            require("remove team members", subject)
            if is_team_admin(member.role):
                require("add or remove team admins", subject)
        if is_team_admin(member.role):
            _keep_an_admin(session, found, target)
        session.delete(member)
        session.flush()
        leave_org_if_unused(session, found.org_id, target.id)


def set_registry_admin(
    backend: Backend, actor: Actor, team: str, username: str, on: bool
) -> dict[str, Any]:
    validate.username(username)
    flag = validate.flag(on, "registry_admin")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require("add or remove registry admins", team_subject(session, found, user))
        target, member = _target(session, found, username)
        member.registry_admin = flag
        return member_view(session, found, target.id)
