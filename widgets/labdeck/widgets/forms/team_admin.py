"""A team admin's forms: invitations (F-TM-3), service accounts (F-TM-6),
privacy (F-TS-4), team alerts (F-TS-2), avatar (F-TS-3), storage connector
(F-TS-6) and usage (F-TS-5), over `services.invitations`, `services.members`,
`services.service_accounts`, `services.team_settings` and `services.usage`.

`labdeck.settings()` shows them only where the team's settings answered
(the service says who administers a team); the services check again.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import NotFound
from labdeck.backend.roles import TeamRole
from labdeck.backend.services import (
    invitations,
    members,
    service_accounts,
    team_settings,
    teams,
    usage,
)

from .base import WIDE, Form, Row, SwitchGrid, UsageBar, day, hide, note, uploaded_bytes
from .keys import SecretBox
from .teams import ROLE_LABELS, role_options


class TeamForm(Form):
    """A form about one team; `what` names what it edits there."""

    what = ""

    def __init__(self, backend: Backend, actor: Actor, team: str) -> None:
        self.team = team
        self.title = f"{self.what} of {team}"
        super().__init__(backend, actor)


class InvitationsForm(TeamForm):
    """Invite by email with a role; the team's pending invitations, each
    with a cancel button."""

    what = "Invitations"

    def build(self) -> list[w.Widget]:
        self.rows: dict[int, Row] = {}
        self.email = w.Text(layout=WIDE, placeholder="colleague@example.org")
        self.role = w.Dropdown(options=[])
        self.invite = self.button("Invite", self._invite, "primary")
        self.listing = w.VBox()
        return [
            self.field("email", self.email, "Email"),
            self.field("role", self.role, "Role"),
            self.invite,
            w.HTML("<b>Pending</b>"),
            self.listing,
        ]

    def load(self) -> None:
        organization = teams.get_team(self.backend, self.actor, self.team)["organization"]
        chosen = self.role.value
        self.role.options = role_options(self.backend, self.actor, organization)
        values = [value for _label, value in self.role.options]
        self.role.value = chosen if chosen in values else TeamRole.MEMBER
        # The team's open invitations come with the first page of its members.
        pending = members.list_members(self.backend, self.actor, self.team, limit=1)
        self.rows = {int(inv["id"]): self._row(inv) for inv in pending["invitations"]}
        self.listing.children = [row.box for row in self.rows.values()] or [
            note("No pending invitations.")
        ]

    def _row(self, inv: dict[str, Any]) -> Row:
        number = int(inv["id"])
        cells = [
            w.Label(inv["email"], layout=w.Layout(width="240px")),
            w.Label(ROLE_LABELS.get(inv["role"], inv["role"]), layout=w.Layout(width="110px")),
            note(f"by {inv['invited_by'] or 'a deleted user'}, expires {day(inv['expires_at'])}"),
        ]
        cancel = self.button("Cancel", lambda: self._cancel(number))
        return self.row(cells, {"cancel": cancel})

    def _invite(self) -> None:
        email, role = self.email.value, self.role.value
        outcome = self.run(
            lambda: invitations.invite(self.backend, self.actor, self.team, email, role),
            done=f"Invited {email.strip().lower()}.",
        )
        if outcome.ok and outcome.value is not None:
            self.email.value = ""
            # Whether they were emailed, or this server sends no mail.
            self.status.value = f"{self.status.value} {outcome.value['mail']['message']}"

    def _cancel(self, number: int) -> None:
        self.run(
            lambda: invitations.cancel_invitation(self.backend, self.actor, self.team, number),
            done="Invitation cancelled.",
            where=self.rows[number].error,
        )


class ServiceAccountsForm(TeamForm):
    """The team's service accounts; a new one's API key is shown once."""

    what = "Service accounts"

    def build(self) -> list[w.Widget]:
        self.rows: dict[str, Row] = {}
        self.listing = w.VBox()
        self.name = w.Text(placeholder="e.g. ci-bot")
        self.create = self.button("Create service account", self._create, "primary")
        self.secret = SecretBox()
        return [
            self.listing,
            self.field("name", w.HBox([self.name, self.create])),
            self.secret.box,
        ]

    def load(self) -> None:
        found = service_accounts.list_service_accounts(self.backend, self.actor, self.team)
        self.rows = {str(acc["name"]): self._row(acc) for acc in found}
        self.listing.children = [row.box for row in self.rows.values()] or [
            note("No service accounts.")
        ]

    def _row(self, acc: dict[str, Any]) -> Row:
        name = str(acc["name"])
        cells = [
            w.Label(acc["username"], layout=w.Layout(width="220px")),
            note(
                f"key {acc['key_prefix'] or '(none)'}…, created {day(acc['created_at'])}, "
                f"last used {day(acc['last_used_at'])}"
            ),
        ]
        delete = self.button("Delete", lambda: self._delete(name), "danger")
        return self.row(cells, {"delete": delete})

    def clear(self) -> None:
        super().clear()
        self.secret.clear()

    def _create(self) -> None:
        name = self.name.value
        outcome = self.run(
            lambda: service_accounts.create_service_account(
                self.backend, self.actor, self.team, name
            ),
            done="Service account created: set its key as LABDECK_API_KEY where it runs.",
        )
        if outcome.ok and outcome.value is not None:
            self.name.value = ""
            self.secret.show(outcome.value["secret"])

    def _delete(self, name: str) -> None:
        self.run(
            lambda: service_accounts.delete_service_account(
                self.backend, self.actor, self.team, name
            ),
            done=f"Deleted the service account {name}; the runs it logged stay.",
            where=self.rows[name].error,
        )


class PrivacyForm(TeamForm):
    what = "Privacy"

    def build(self) -> list[w.Widget]:
        self.force_private = w.Checkbox(
            description="Force all team projects private (existing ones become private now)",
            indent=False,
            layout=w.Layout(width="520px"),
        )
        self.code_saving_default = w.Checkbox(
            description="Save code by default for new runs",
            indent=False,
            layout=w.Layout(width="520px"),
        )
        self.save = self.button("Save privacy", self._save, "primary")
        return [
            self.field("force_private", self.force_private),
            self.field("code_saving_default", self.code_saving_default),
            self.save,
        ]

    def load(self) -> None:
        current = team_settings.get_settings(self.backend, self.actor, self.team)
        self.force_private.value = bool(current["force_private"])
        self.code_saving_default.value = bool(current["code_saving_default"])

    def _save(self) -> None:
        changes = {
            "force_private": self.force_private.value,
            "code_saving_default": self.code_saving_default.value,
        }
        self.run(
            lambda: team_settings.patch_settings(self.backend, self.actor, self.team, changes),
            done="Privacy settings saved.",
        )


class TeamAlertsForm(TeamForm):
    """Which run events the team hears about, by email and on Slack."""

    what = "Alerts"

    def build(self) -> list[w.Widget]:
        self.grid = SwitchGrid()
        self.email = w.Text(layout=WIDE, placeholder="team@example.org")
        self.slack_webhook_url = w.Text(
            layout=WIDE, placeholder="https://hooks.slack.com/services/…"
        )
        self.save = self.button("Save team alerts", self._save, "primary")
        return [
            self.field("alerts.events", self.grid.box),
            self.field("alerts.email", self.email, "Alert email"),
            self.field("alerts.slack_webhook_url", self.slack_webhook_url, "Slack webhook"),
            self.save,
        ]

    def load(self) -> None:
        alerts = team_settings.get_settings(self.backend, self.actor, self.team)["alerts"]
        self.grid.show(alerts["events"])
        self.email.value = alerts["email"] or ""
        self.slack_webhook_url.value = alerts["slack_webhook_url"] or ""

    def _save(self) -> None:
        alerts = {
            "events": self.grid.values(),
            "email": self.email.value,
            "slack_webhook_url": self.slack_webhook_url.value,
        }
        self.run(
            lambda: team_settings.patch_settings(
                self.backend, self.actor, self.team, {"alerts": alerts}
            ),
            done="Team alerts saved.",
        )


class TeamAvatarForm(TeamForm):
    what = "Avatar"

    def build(self) -> list[w.Widget]:
        self.picture = w.Image(format="png", width=96, height=96)
        self.upload = w.FileUpload(
            accept="image/png,image/jpeg,image/gif,image/webp", multiple=False, description="Upload"
        )
        self.upload.observe(self._uploaded, names="value")
        return [self.picture, self.field("image", self.upload)]

    def load(self) -> None:
        try:
            png = team_settings.get_team_avatar(self.backend, self.actor, self.team)
        except NotFound:
            # The service's way of saying "no avatar yet".
            hide(self.picture)
            return
        self.picture.value = png
        hide(self.picture, False)

    def _uploaded(self, change: dict[str, Any]) -> None:
        data = uploaded_bytes(change["new"])
        if data is None:
            return
        self.upload.value = ()
        self.run(
            lambda: team_settings.set_team_avatar(self.backend, self.actor, self.team, data),
            done="Team avatar updated.",
        )


class StorageConnectorForm(TeamForm):
    """Where the team's artifacts and run files go (an fsspec URL); the
    service writes a probe there before saving. Empty goes back to the
    server's default store."""

    what = "Storage connector"

    def build(self) -> list[w.Widget]:
        self.where = note()
        self.storage_url = w.Text(layout=WIDE, placeholder="s3://bucket/path, file:///data/…")
        self.save = self.button("Save storage", self._save, "primary")
        return [self.where, self.field("storage_url", self.storage_url, "fsspec URL"), self.save]

    def load(self) -> None:
        current = team_settings.get_settings(self.backend, self.actor, self.team)
        self.storage_url.value = current["storage_url"] or ""
        self.where.value = (
            "Using the server's default storage."
            if current["uses_default_storage"]
            else f"Using {current['storage_url']}."
        )

    def _save(self) -> None:
        url = self.storage_url.value
        self.run(
            lambda: team_settings.patch_settings(
                self.backend, self.actor, self.team, {"storage_url": url}
            ),
            done="Storage connector saved.",
        )


class TeamUsageForm(TeamForm):
    what = "Usage"

    def build(self) -> list[w.Widget]:
        self.usage = UsageBar()
        self.reload = self.button("Refresh", self.refresh)
        return [self.usage.box, self.reload]

    def load(self) -> None:
        self.usage.show(usage.get_team_storage(self.backend, self.actor, self.team))
