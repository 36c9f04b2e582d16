"""What the caller may do, asked of the permission table (F-TM-8, F-UI-3).

The JupyterLab panel shows only the controls a user may use. It must not
decide that itself (the frontend holds no business rule), so it asks here:
these answers come from the same `permissions.allowed()` that the services
enforce, and the services still refuse whatever the panel shows.
"""

from __future__ import annotations

from typing import Any

from ..access import account_subject, actor_user, team_subject, visible_team
from ..context import Actor, Backend
from ..models import Organization, OrgMember
from ..permissions import CUSTOMIZABLE_ACTIONS, TABLE, allowed

SYSTEM_ACTIONS = tuple(name for name, action in TABLE.items() if action.area == "system")


def account_permissions(backend: Backend, actor: Actor) -> dict[str, Any]:
    """The system rows of the table that the account type grants."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        subject = account_subject(user)
        return {"actions": [a for a in SYSTEM_ACTIONS if allowed(a, subject)]}


def team_permissions(backend: Backend, actor: Actor, team: str) -> dict[str, Any]:
    """The team-scoped rows the caller's role on `team` grants, on things it
    does not own ("own" cells are decided per thing by the services); whether
    it administers the team's organization (custom roles, Models and Weave
    access); and the actions a custom role may add, for the form that defines
    one. A team the caller cannot see answers 404, as everywhere."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        subject = team_subject(session, found, user)
        org = session.get(Organization, found.org_id)
        org_member = session.get(OrgMember, (found.org_id, user.id))
        return {
            "team": found.name,
            "actions": [a for a in CUSTOMIZABLE_ACTIONS if allowed(a, subject)],
            "organization": org.name if org is not None else "",
            "organization_admin": bool(org_member is not None and org_member.is_admin),
            "custom_role_actions": list(CUSTOMIZABLE_ACTIONS),
        }
