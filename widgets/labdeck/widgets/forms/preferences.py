"""Beta features (F-US-3), alerts (F-US-4), GitHub (F-US-5) and storage
(F-US-7): the account's preferences, over `services.beta_features`,
`services.alert_settings`, `services.github` and `services.usage`."""

from __future__ import annotations

import html

import ipywidgets as w

from labdeck.backend.services import alert_settings, beta_features, github, usage

from .base import WIDE, Form, SwitchGrid, UsageBar, hide, note


class BetaFeaturesForm(Form):
    """One checkbox per beta feature of the catalogue, with what it does; Save sends
    them all and the service checks every one before saving any."""

    title = "Beta features"

    def build(self) -> list[w.Widget]:
        self.checkboxes: dict[str, w.Checkbox] = {}
        self.listing = w.VBox()
        self.save = self.button("Save beta features", self._save, "primary")
        return [self.listing, self.save]

    def load(self) -> None:
        self.checkboxes = {}
        lines: list[w.Widget] = []
        for feature in beta_features.list_beta_features(self.backend, self.actor):
            name = str(feature["name"])
            box = w.Checkbox(value=bool(feature["enabled"]), description=name, indent=False)
            self.checkboxes[name] = box
            lines += [self.field(name, box), note(feature["description"])]
        self.listing.children = lines

    def _save(self) -> None:
        changes = {name: bool(box.value) for name, box in self.checkboxes.items()}
        self.run(
            lambda: beta_features.set_beta_features(self.backend, self.actor, changes),
            done="Beta features saved.",
        )


class AlertsForm(Form):
    """Which events reach the user on which channel, and the Slack webhook
    that Slack alerts are posted to."""

    title = "Alerts"

    def build(self) -> list[w.Widget]:
        self.grid = SwitchGrid()
        self.slack_webhook_url = w.Text(
            layout=WIDE, placeholder="https://hooks.slack.com/services/…"
        )
        self.save = self.button("Save alerts", self._save, "primary")
        return [
            self.field("events", self.grid.box),
            self.field("slack_webhook_url", self.slack_webhook_url, "Slack webhook"),
            self.save,
        ]

    def load(self) -> None:
        current = alert_settings.get_alert_settings(self.backend, self.actor)
        self.grid.show(current["events"])
        self.slack_webhook_url.value = current["slack_webhook_url"] or ""

    def _save(self) -> None:
        body = {"events": self.grid.values(), "slack_webhook_url": self.slack_webhook_url.value}
        self.run(
            lambda: alert_settings.put_alert_settings(self.backend, self.actor, body),
            done="Alert settings saved.",
        )


class GithubForm(Form):
    """The connected login, or a link that starts GitHub's sign-in. The
    flow ends at the server's callback, in the browser; "Check again" reads
    the result back."""

    title = "GitHub"

    def build(self) -> list[w.Widget]:
        self.state = w.Label("")
        self.connect = self.button("Connect GitHub", self._connect, "primary")
        self.disconnect = self.button("Disconnect", self._disconnect, "danger")
        self.check = self.button("Check again", self._check)
        self.link = w.HTML("")
        return [self.state, w.HBox([self.connect, self.disconnect, self.check]), self.link]

    def load(self) -> None:
        shown = github.get_github(self.backend, self.actor)
        connected = bool(shown["connected"])
        self.state.value = (
            f"Connected as {shown['login']}" if connected else "No GitHub account connected."
        )
        hide(self.connect, connected)
        hide(self.disconnect, not connected)
        if connected:
            self.link.value = ""

    def _connect(self) -> None:
        outcome = self.run(
            lambda: github.start_connect(self.backend, self.actor),
            done="Open the link, authorize labdeck on GitHub, then press Check again.",
        )
        if outcome.ok and outcome.value is not None:
            url = html.escape(outcome.value["authorize_url"], quote=True)
            self.link.value = (
                f'<a href="{url}" target="_blank" rel="noopener">Authorize labdeck on GitHub</a>'
            )

    def _disconnect(self) -> None:
        self.run(
            lambda: github.disconnect(self.backend, self.actor),
            done="GitHub disconnected. Revoke the grant on GitHub too if you no longer use it.",
        )

    def _check(self) -> None:
        self.run(lambda: github.get_github(self.backend, self.actor), done="")


class StorageForm(Form):
    """What the account stores against its quota."""

    title = "Storage"

    def build(self) -> list[w.Widget]:
        self.usage = UsageBar()
        self.reload = self.button("Refresh", self.refresh)
        return [self.usage.box, self.reload]

    def load(self) -> None:
        self.usage.show(usage.get_user_storage(self.backend, self.actor))
