"""The vocabulary of who an account is: account types, team roles and
organization roles, with the predicates every layer asks instead of
comparing spelled-out names.

The names are stored in the database and travel over REST, so each member's
value is the stored string; `Name` makes a member compare, hash, format and
serialize exactly as that string (what `enum.StrEnum` does on Python ≥ 3.11).
What a role may do is not decided here: that is `permissions.py`'s table.
"""

from __future__ import annotations

import enum


class Name(str, enum.Enum):
    """A stored name: `str(x)`, f-strings and JSON give the plain value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class AccountType(Name):
    """`users.account_type`: a person, a person who administers the
    installation, or a team's service account (no sign-in, API keys only)."""

    USER = "user"
    ADMIN = "admin"
    SERVICE = "service"


class TeamRole(Name):
    """`memberships.role` (and an invitation's): the base role of a member; a
    custom role adds actions on top of one of `CUSTOM_ROLE_BASES`."""

    ADMIN = "admin"
    MEMBER = "member"
    VIEW_ONLY = "view_only"


class OrgRole(Name):
    """How an organization member is shown (`org_members.is_admin`)."""

    ADMIN = "admin"
    MEMBER = "member"


CUSTOM_ROLE_BASES = (TeamRole.VIEW_ONLY, TeamRole.MEMBER)


def is_admin_account(account_type: str) -> bool:
    return account_type == AccountType.ADMIN


def is_service_account(account_type: str) -> bool:
    return account_type == AccountType.SERVICE


def is_team_admin(role: str | None) -> bool:
    return role == TeamRole.ADMIN


def org_role(is_admin: bool) -> OrgRole:
    return OrgRole.ADMIN if is_admin else OrgRole.MEMBER
