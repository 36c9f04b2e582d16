"""Teams as a person sees them: create a team (F-TM-1), the invitations
addressed to me (F-TM-3), custom roles of the organizations I administer
(F-TM-5), and a team's members with their roles (F-TM-2, F-TM-4), over
`services.teams`, `services.invitations`, `services.orgs` and `services.members`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from labdeck.backend.context import Actor, Backend
from labdeck.backend.permissions import CUSTOMIZABLE_ACTIONS, TEAM_ROLES
from labdeck.backend.roles import CUSTOM_ROLE_BASES, TeamRole
from labdeck.backend.services import invitations, members, orgs, profile, teams

from .base import ERROR_COLOUR, WIDE, Form, Row, day, note, readable

Callback = Callable[[], None]
ROLE_LABELS: dict[str, str] = {
    TeamRole.ADMIN: "Admin",
    TeamRole.MEMBER: "Member",
    TeamRole.VIEW_ONLY: "View-only",
}
PAGE_SIZE = 200


def role_options(backend: Backend, actor: Actor, organization: str) -> list[tuple[str, str]]:
    """The standard roles, then the custom roles of the team's organization:
    what a team admin may pick from (the service still checks the grant)."""
    options = [(ROLE_LABELS.get(role, readable(role)), role) for role in TEAM_ROLES]
    for custom in orgs.list_custom_roles(backend, actor, organization):
        options.append((f"{custom['name']} (custom)", str(custom["name"])))
    return options


def all_members(backend: Backend, actor: Actor, team: str) -> list[dict[str, Any]]:
    """Every member, following the service's pages."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = members.list_members(backend, actor, team, limit=PAGE_SIZE, cursor=cursor)
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


class CreateTeamForm(Form):
    """Name (never changeable afterwards), type, and an organization picked
    from mine or typed new."""

    title = "Create a team"

    def __init__(self, backend: Backend, actor: Actor, on_created: Callback | None = None) -> None:
        self.on_created = on_created
        super().__init__(backend, actor)

    def build(self) -> list[w.Widget]:
        self.name = w.Text(layout=WIDE, placeholder="3–64 of a-z 0-9 - _; cannot be changed later")
        self.type = w.Dropdown(options=[(readable(t), t) for t in teams.TEAM_TYPES])
        self.organization = w.Combobox(
            options=[], ensure_option=False, placeholder="pick one, or type a new name"
        )
        self.create = self.button("Create team", self._create, "primary")
        return [
            self.field("name", self.name, "Team name"),
            self.field("type", self.type, "Type"),
            self.field("organization", self.organization, "Organization"),
            self.create,
        ]

    def load(self) -> None:
        self.organization.options = [
            org["name"] for org in orgs.list_orgs(self.backend, self.actor)
        ]

    def _create(self) -> None:
        name, kind, org = self.name.value, self.type.value, self.organization.value
        outcome = self.run(
            lambda: teams.create_team(self.backend, self.actor, name, kind, org),
            done=f"Team {name.strip().lower()} created; you are its admin.",
        )
        if outcome.ok:
            self.name.value = ""
            if self.on_created is not None:
                self.on_created()


class MyInvitationsForm(Form):
    """Invitations addressed to my verified emails: accept or decline."""

    title = "My invitations"

    def __init__(self, backend: Backend, actor: Actor, on_joined: Callback | None = None) -> None:
        self.on_joined = on_joined
        super().__init__(backend, actor)

    def build(self) -> list[w.Widget]:
        self.rows: dict[int, Row] = {}
        self.listing = w.VBox()
        return [self.listing]

    def load(self) -> None:
        found = invitations.list_my_invitations(self.backend, self.actor)
        self.rows = {int(inv["id"]): self._row(inv) for inv in found}
        self.listing.children = [row.box for row in self.rows.values()] or [
            note("No pending invitations.")
        ]

    def _row(self, inv: dict[str, Any]) -> Row:
        number = int(inv["id"])
        cells = [
            w.Label(f"{inv['team']} as {inv['role']}", layout=w.Layout(width="260px")),
            note(f"from {inv['invited_by'] or 'a deleted user'}, expires {day(inv['expires_at'])}"),
        ]
        controls = {
            "accept": self.button("Accept", lambda: self._answer(number, True), "success"),
            "decline": self.button("Decline", lambda: self._answer(number, False)),
        }
        return self.row(cells, controls)

    def _answer(self, number: int, accept: bool) -> None:
        service = invitations.accept_invitation if accept else invitations.decline_invitation
        outcome = self.run(
            lambda: service(self.backend, self.actor, number),
            done="Invitation accepted." if accept else "Invitation declined.",
            where=self.rows[number].error,
        )
        if outcome.ok and accept and self.on_joined is not None:
            self.on_joined()


class CustomRolesForm(Form):
    """An organization's custom roles: a base role plus extra permissions."""

    def __init__(self, backend: Backend, actor: Actor, organization: str) -> None:
        self.organization = organization
        self.title = f"Custom roles of {organization}"
        super().__init__(backend, actor)

    def build(self) -> list[w.Widget]:
        self.listing = w.VBox()
        self.name = w.Text(placeholder="e.g. reviewer")
        self.base_role = w.Dropdown(
            options=[(ROLE_LABELS.get(b, readable(b)), b) for b in CUSTOM_ROLE_BASES]
        )
        self.permissions = w.SelectMultiple(options=list(CUSTOMIZABLE_ACTIONS), rows=8, layout=WIDE)
        self.create = self.button("Create role", self._create, "primary")
        return [
            self.listing,
            self.field("name", self.name, "Role name"),
            self.field("base_role", self.base_role, "Based on"),
            self.field("permissions", self.permissions, "Adds"),
            self.create,
        ]

    def load(self) -> None:
        roles = orgs.list_custom_roles(self.backend, self.actor, self.organization)
        self.listing.children = [
            w.HBox(
                [
                    w.Label(role["name"], layout=w.Layout(width="160px")),
                    note(
                        f"{ROLE_LABELS.get(role['base_role'], role['base_role'])} + "
                        + (", ".join(role["permissions"]) or "nothing more")
                    ),
                ]
            )
            for role in roles
        ] or [note("No custom roles yet.")]

    def _create(self) -> None:
        name, base, extra = self.name.value, self.base_role.value, list(self.permissions.value)
        outcome = self.run(
            lambda: orgs.create_custom_role(
                self.backend, self.actor, self.organization, name, base, extra
            ),
            done=f"Role {name.strip().lower()} created.",
        )
        if outcome.ok:
            self.name.value = ""
            self.permissions.value = ()


class TeamMembersForm(Form):
    """A team's members. With `manage` (the team's settings answered, so the
    user administers it) each member gets a role dropdown and a remove
    button; otherwise the list is read-only. Anyone may leave."""

    def __init__(
        self,
        backend: Backend,
        actor: Actor,
        team: str,
        *,
        manage: bool,
        on_left: Callback | None = None,
    ) -> None:
        self.team, self.manage, self.on_left = team, manage, on_left
        self.title = f"Members of {team}"
        self._quiet = False
        self.me = ""
        super().__init__(backend, actor)

    def build(self) -> list[w.Widget]:
        self.rows: dict[str, Row] = {}
        self.warning = note(colour=ERROR_COLOUR)
        self.listing = w.VBox()
        self.leave = self.button("Leave this team", self._leave)
        return [self.warning, self.listing, self.leave]

    def load(self) -> None:
        shown = teams.get_team(self.backend, self.actor, self.team)
        self.me = str(profile.get_profile(self.backend, self.actor)["username"])
        self.warning.value = (
            "This team has only one admin: make another member admin so that it is not "
            "left without one."
            if shown["only_one_admin"]
            else ""
        )
        options = (
            role_options(self.backend, self.actor, shown["organization"]) if self.manage else []
        )
        self.rows = {
            m["username"]: self._row(m, options)
            for m in all_members(self.backend, self.actor, self.team)
        }
        self.listing.children = [row.box for row in self.rows.values()]

    def _row(self, member: dict[str, Any], options: list[tuple[str, str]]) -> Row:
        username = str(member["username"])
        cells = [
            w.Label(member["name"] or username, layout=w.Layout(width="150px")),
            w.Label(username, layout=w.Layout(width="130px")),
            w.Label(member["email"] or "", layout=w.Layout(width="200px")),
            note(f"Models {member['models_access']}, Weave {member['weave_access']}"),
        ]
        role = str(member["role"])
        if not self.manage:
            return self.row([*cells, w.Label(ROLE_LABELS.get(role, role))], {})
        if role not in (value for _label, value in options):
            options = [*options, (role, role)]
        dropdown = w.Dropdown(options=options, value=role, layout=w.Layout(width="170px"))
        dropdown.observe(lambda change: self._role_changed(username, change), names="value")
        remove = self.button("Remove", lambda: self._remove(username), "danger")
        return self.row(cells, {"role": dropdown, "remove": remove})

    def _role_changed(self, username: str, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        old, new = change["old"], change["new"]
        outcome = self.run(
            lambda: members.change_role(self.backend, self.actor, self.team, username, new),
            done=f"{username} is now {ROLE_LABELS.get(new, new)}.",
            where=self.rows[username].error,
        )
        if not outcome.ok:
            # Refused: the dropdown goes back to the role that is still saved.
            self._quiet = True
            try:
                change["owner"].value = old
            finally:
                self._quiet = False

    def _remove(self, username: str) -> None:
        if username == self.me:
            self._leave()
            return
        self.run(
            lambda: members.remove_member(self.backend, self.actor, self.team, username),
            done=f"Removed {username} from {self.team}; the runs they logged stay.",
            where=self.rows[username].error,
        )

    def _leave(self) -> None:
        outcome = self.run(
            lambda: members.remove_member(self.backend, self.actor, self.team, self.me),
            done=f"You left {self.team}.",
            refresh=False,
        )
        if outcome.ok:
            self.listing.children = []
            self.leave.disabled = True
            if self.on_left is not None:
                self.on_left()
