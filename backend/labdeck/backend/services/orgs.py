"""Organizations, their custom roles and Models/Weave access (F-TM-1, F-TM-2, F-TM-5).

An organization groups teams. A person belongs to it while they belong to
one of its teams, or while they administer it; the Models and Weave access
set on that organization membership is what every team of the organization
shows for them. Organization admins are the ones who created it (or whom
another organization admin promoted); the permission table adds that custom
roles are an admin account's business, so defining one needs both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import locks, validate
from ..access import account_subject, actor_user, is_system_admin
from ..context import Actor, Backend
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import CustomRole, Email, Membership, Organization, OrgMember, Team, User
from ..permissions import CUSTOMIZABLE_ACTIONS, TEAM_ROLES, require
from ..roles import CUSTOM_ROLE_BASES, org_role

ACCESS_LEVELS = ("full", "limited", "none")
MEMBER_FIELDS = ("models_access", "weave_access", "admin")
MAX_CUSTOM_PERMISSIONS = len(CUSTOMIZABLE_ACTIONS)


def find_org(session: Session, name: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.name == name.strip().lower()))


def join_org(session: Session, org_id: int, user_id: int, *, admin: bool = False) -> OrgMember:
    """Make the user an organization member (keeping any access already set).
    The caller holds the user's lock (`locks`), as `leave_org_if_unused`'s does,
    so a join and a leave of one account never interleave."""
    member = session.get(OrgMember, (org_id, user_id))
    if member is None:
        member = OrgMember(
            org_id=org_id,
            user_id=user_id,
            is_admin=admin,
            models_access="full",
            weave_access="full",
        )
        session.add(member)
        session.flush()
    elif admin:
        member.is_admin = True
    return member


def leave_org_if_unused(session: Session, org_id: int, user_id: int) -> None:
    """Drop the organization membership once the user is in none of its teams,
    unless they administer the organization (that role is not a team's).
    The caller holds the user's lock (`locks`)."""
    member = session.get(OrgMember, (org_id, user_id))
    if member is None or member.is_admin:
        return
    still_in_a_team = session.scalar(
        select(Membership.user_id)
        .join(Team, Team.id == Membership.team_id)
        .where(Team.org_id == org_id, Membership.user_id == user_id)
        .limit(1)
    )
    if still_in_a_team is None:
        session.delete(member)


def _visible_org(session: Session, user: User, name: str) -> tuple[Organization, OrgMember | None]:
    """Members and admin accounts see an organization; anyone else gets 404."""
    org = find_org(session, name)
    if org is None:
        raise NotFound(f"no organization named {name!r}")
    member = session.get(OrgMember, (org.id, user.id))
    if member is None and not is_system_admin(user):
        raise NotFound(f"no organization named {name!r}")
    return org, member


def _require_org_admin(org: Organization, member: OrgMember | None, what: str) -> None:
    if member is None or not member.is_admin:
        raise Forbidden(f"only administrators of the organization {org.name} may {what}")


def org_view(org: Organization, member: OrgMember | None) -> dict[str, Any]:
    role = None if member is None else org_role(member.is_admin)
    return {"name": org.name, "created_at": org.created_at.isoformat(), "my_role": role}


def role_view(role: CustomRole, org_name: str) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "organization": org_name,
        "base_role": role.base_role,
        "permissions": list(role.extra_actions),
        "created_at": role.created_at.isoformat(),
    }


def list_orgs(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        stmt = select(Organization, OrgMember).outerjoin(
            OrgMember, (OrgMember.org_id == Organization.id) & (OrgMember.user_id == user.id)
        )
        if not is_system_admin(user):
            stmt = stmt.where(OrgMember.user_id.is_not(None))
        rows = session.execute(stmt.order_by(Organization.name)).all()
        return [org_view(org, member) for org, member in rows]


def create_org(backend: Backend, actor: Actor, name: str) -> dict[str, Any]:
    org_name = validate.team_name(name, "name")
    try:
        with backend.db.transaction() as session:
            user = actor_user(session, actor)
            require("create organizations and custom roles", account_subject(user))
            locks.hold(session, locks.user(user.id))
            if find_org(session, org_name) is not None:
                raise Conflict(f"an organization named {org_name!r} exists", field="name")
            org = Organization(name=org_name)
            session.add(org)
            session.flush()
            member = join_org(session, org.id, user.id, admin=True)
            return org_view(org, member)
    except IntegrityError:
        raise Conflict(f"an organization named {org_name!r} exists", field="name") from None


def list_custom_roles(backend: Backend, actor: Actor, org: str) -> list[dict[str, Any]]:
    """Every member sees them: team admins assign them, members read their own."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found, _member = _visible_org(session, user, org)
        roles = session.scalars(
            select(CustomRole).where(CustomRole.org_id == found.id).order_by(CustomRole.name)
        )
        return [role_view(r, found.name) for r in roles]


def _custom_permissions(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_CUSTOM_PERMISSIONS:
        raise Invalid("permissions must be a list of action names", field="permissions")
    for action in value:
        if not isinstance(action, str) or action not in CUSTOMIZABLE_ACTIONS:
            raise Invalid(
                f"{action!r} is not an action a custom role can add; one of: "
                + ", ".join(CUSTOMIZABLE_ACTIONS),
                field="permissions",
            )
    # Table order, once each: equal roles then look equal wherever they are shown.
    return [a for a in CUSTOMIZABLE_ACTIONS if a in value]


def create_custom_role(
    backend: Backend,
    actor: Actor,
    org: str,
    name: str,
    base_role: str,
    permissions: list[str],
) -> dict[str, Any]:
    role_name = validate.team_name(name, "name")
    if role_name in TEAM_ROLES:
        raise Invalid(f"{role_name!r} is the name of a standard role", field="name")
    base = validate.choice(base_role, "base_role", CUSTOM_ROLE_BASES)
    extras = _custom_permissions(permissions)
    try:
        with backend.db.transaction() as session:
            user = actor_user(session, actor)
            found, member = _visible_org(session, user, org)
            require("create organizations and custom roles", account_subject(user))
            _require_org_admin(found, member, "define custom roles")
            clash = session.scalar(
                select(CustomRole.id).where(
                    CustomRole.org_id == found.id, CustomRole.name == role_name
                )
            )
            if clash is not None:
                raise Conflict(f"{found.name} already has a role named {role_name!r}", field="name")
            role = CustomRole(org_id=found.id, name=role_name, base_role=base, extra_actions=extras)
            session.add(role)
            session.flush()
            return role_view(role, found.name)
    except IntegrityError:
        raise Conflict(f"{org} already has a role named {role_name!r}", field="name") from None


def _member_changes(changes: Any) -> dict[str, Any]:
    body = validate.json_object(changes, "changes")
    validate.only_fields(body, MEMBER_FIELDS)
    clean: dict[str, Any] = {}
    for key in ("models_access", "weave_access"):
        if key in body:
            clean[key] = validate.choice(body[key], key, ACCESS_LEVELS)
    if "admin" in body:
        clean["admin"] = validate.flag(body["admin"], "admin")
    return clean


def org_member_view(session: Session, org_id: int, user_id: int) -> dict[str, Any]:
    row = session.execute(
        select(User.username, User.name, Email.address, OrgMember)
        .join(OrgMember, OrgMember.user_id == User.id)
        .outerjoin(Email, (Email.user_id == User.id) & Email.is_primary.is_(True))
        .where(OrgMember.org_id == org_id, OrgMember.user_id == user_id)
    ).one()
    member: OrgMember = row[3]
    return {
        "username": row.username,
        "name": row.name,
        "email": row.address,
        "admin": member.is_admin,
        "models_access": member.models_access,
        "weave_access": member.weave_access,
    }


def set_org_member_access(
    backend: Backend, actor: Actor, org: str, username: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Models/Weave access (inherited by every team of the organization), and
    organization admin, which only organization admins change."""
    target_name = validate.username(username)
    clean = _member_changes(changes)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found, member = _visible_org(session, user, org)
        _require_org_admin(found, member, "change members' access")
        target = session.scalar(
            select(OrgMember)
            .join(User, User.id == OrgMember.user_id)
            .where(OrgMember.org_id == found.id, User.username == target_name)
        )
        if target is None:
            raise NotFound(f"{target_name} is not a member of the organization {found.name}")
        if clean.get("admin") is False and target.is_admin:
            # Locked so that two admins demoting each other at once cannot both pass.
            locks.hold(session, locks.org(found.id))
            admins = session.scalars(
                select(OrgMember.user_id).where(
                    OrgMember.org_id == found.id, OrgMember.is_admin.is_(True)
                )
            ).all()
            if list(admins) == [target.user_id]:
                raise Conflict(
                    f"{target_name} is the last administrator of {found.name}; "
                    "make another member an administrator first"
                )
        if "admin" in clean:
            target.is_admin = clean["admin"]
        if "models_access" in clean:
            target.models_access = clean["models_access"]
        if "weave_access" in clean:
            target.weave_access = clean["weave_access"]
        session.flush()
        return org_member_view(session, found.id, target.user_id)
