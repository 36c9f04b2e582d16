"""`labdeck.settings()`: every settings form of F-UI-4 in one `Tab`, the
notebook's counterpart of the sidebar panel (F-UI-3).

The layout decides only what to show, from what the services answer: the
create-team form where the permission table lets the account create teams,
custom roles for the organizations the user administers, and a team's
admin forms where its settings answered (the service is the one that knows
who administers a team). Nothing here decides whether an action is
allowed: every form's action goes to a service, which checks again.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Forbidden, LabdeckError, NotFound
from labdeck.backend.permissions import Subject, allowed
from labdeck.backend.roles import OrgRole, is_admin_account
from labdeck.backend.services import identity, orgs, profile, team_settings, teams
from labdeck.client.direct import DirectClient

from .forms import (
    AlertRulesForm,
    AlertsForm,
    ApiKeysForm,
    BetaFeaturesForm,
    CreateTeamForm,
    CustomRolesForm,
    DeleteAccountForm,
    EmailsForm,
    Form,
    GithubForm,
    InvitationsForm,
    MyInvitationsForm,
    PrivacyForm,
    ProfileForm,
    ServiceAccountsForm,
    StorageConnectorForm,
    StorageForm,
    TeamAlertRulesForm,
    TeamAlertsForm,
    TeamAvatarForm,
    TeamMembersForm,
    TeamUsageForm,
)
from .forms.base import ERROR_COLOUR, note

ACCOUNT_FORMS: tuple[tuple[str, type[Form]], ...] = (
    ("Profile", ProfileForm),
    ("Emails", EmailsForm),
    ("API keys", ApiKeysForm),
    ("Beta features", BetaFeaturesForm),
    ("Alerts", AlertsForm),
    ("Threshold rules", AlertRulesForm),
    ("GitHub", GithubForm),
    ("Storage", StorageForm),
)
TEAM_ADMIN_FORMS = (
    InvitationsForm,
    ServiceAccountsForm,
    PrivacyForm,
    TeamAlertsForm,
    TeamAlertRulesForm,
    TeamAvatarForm,
    StorageConnectorForm,
    TeamUsageForm,
)


def may_create_teams(backend: Backend, actor: Actor) -> bool:
    """Asks the permission table, with the account type the profile
    service reports, whether the create-team form is worth showing."""
    account_type = profile.get_profile(backend, actor)["account_type"]
    return allowed("create or delete teams", Subject(system_admin=is_admin_account(account_type)))


def administers(backend: Backend, actor: Actor, team: str) -> bool:
    """Whether the team's settings answer for this user (F-TS-1)."""
    try:
        team_settings.get_settings(backend, actor, team)
    except (Forbidden, NotFound):
        return False
    return True


class SettingsPanel:
    """The tabs, and the forms in them by name, so that code (and tests)
    can reach a form of the panel; the team part is rebuilt whenever a form
    changes which teams the user belongs to."""

    def __init__(self, backend: Backend, actor: Actor) -> None:
        self.backend, self.actor = backend, actor
        self.forms: dict[str, Form] = {title: form(backend, actor) for title, form in ACCOUNT_FORMS}
        self.create_team: CreateTeamForm | None = None
        if may_create_teams(backend, actor):
            self.create_team = CreateTeamForm(backend, actor, on_created=self.rebuild_teams)
        self.my_invitations = MyInvitationsForm(backend, actor, on_joined=self.rebuild_teams)
        self.custom_roles: dict[str, CustomRolesForm] = {}
        self.team_forms: dict[str, list[Form]] = {}
        self.teams_tab = w.Tab()
        self.teams_error = note(colour=ERROR_COLOUR)
        self.forms["Delete account"] = DeleteAccountForm(backend, actor)
        titles = [*(title for title, _ in ACCOUNT_FORMS), "Teams", "Delete account"]
        children = [
            *(self.forms[title].widget for title, _ in ACCOUNT_FORMS),
            w.VBox([self.teams_error, self.teams_tab]),
            self.forms["Delete account"].widget,
        ]
        self.tab = w.Tab(children=children, titles=titles)
        self.rebuild_teams()

    def rebuild_teams(self) -> None:
        self.teams_error.value = ""
        try:
            self._rebuild_teams()
        except LabdeckError as exc:
            self.teams_error.value = exc.message

    def _rebuild_teams(self) -> None:
        backend, actor = self.backend, self.actor
        self.custom_roles = {
            org["name"]: CustomRolesForm(backend, actor, org["name"])
            for org in orgs.list_orgs(backend, actor)
            if org["my_role"] == OrgRole.ADMIN
        }
        overview: list[Form] = [
            *([self.create_team] if self.create_team else []),
            self.my_invitations,
            *self.custom_roles.values(),
        ]
        children, titles = [w.VBox([form.widget for form in overview])], ["Overview"]
        self.team_forms = {}
        for team in teams.list_my_teams(backend, actor):
            name = team["name"]
            manage = administers(backend, actor, name)
            forms: list[Form] = [
                TeamMembersForm(backend, actor, name, manage=manage, on_left=self.rebuild_teams)
            ]
            if manage:
                forms += [form(backend, actor, name) for form in TEAM_ADMIN_FORMS]
            self.team_forms[name] = forms
            sections = w.Accordion(
                children=[form.widget for form in forms],
                titles=[form.title for form in forms],
                selected_index=0,
            )
            children.append(sections)
            titles.append(name)
        self.teams_tab.children = children
        self.teams_tab.titles = titles


def settings(backend: Backend | None = None, actor: Actor | None = None) -> w.Widget:
    """Every settings form as tabs: profile, emails, API keys, beta
    features, alerts, GitHub, storage, teams (a sub-tab per team the user
    belongs to) and delete account.

    `backend` defaults to the process's client (`labdeck.client.mode`): the
    database of `LABDECK_DATABASE_URL` (else the SQLite file in the Jupyter
    data directory), `actor` to the kernel's user. In client mode (a team's
    labdeck service, docs/hub.md) the forms, which call services in this
    process, cannot run: the settings are shown read-only, read over REST,
    and are changed in the labdeck sidebar panel, which reaches the service."""
    if backend is None:
        from labdeck.client import mode

        client = mode.client()
        if not isinstance(client, DirectClient):
            return overview(client.settings_overview())
        backend, actor = client.backend, actor or client.actor
    actor = actor or identity.process_actor(backend)
    return SettingsPanel(backend, actor).tab


def overview(read: dict[str, Any]) -> w.HTML:
    """The account's settings as the service answered them, read-only."""
    me = read["profile"]

    def rows(items: list[tuple[str, Any]]) -> str:
        return "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in items
        )

    profile_rows = [
        (k, me.get(k) or "") for k in ("username", "name", "account_type", "institution")
    ]
    emails = [(e["address"], "primary" if e.get("primary") else "") for e in read["emails"]]
    keys = [(k.get("name") or "(unnamed)", k.get("prefix", "")) for k in read["api_keys"]]
    beta = [(f["name"], "on" if f.get("enabled") else "off") for f in read["beta_features"]]
    teams = [(t["name"], t.get("my_role") or "") for t in read["teams"]]
    sections = [
        ("Profile", profile_rows),
        ("Emails", emails),
        ("API keys", keys),
        ("Beta features", beta),
        ("Teams", teams),
    ]
    body = "".join(
        f"<h4>{title}</h4><table>{rows(items) or '<tr><td>none</td></tr>'}</table>"
        for title, items in sections
    )
    return w.HTML(
        "<p>labdeck is a client of the team's service here: these settings are read-only "
        "in the notebook; change them in the labdeck sidebar panel.</p>" + body
    )
