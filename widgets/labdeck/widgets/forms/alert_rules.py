"""Threshold rules (F-SM-11) as forms: a person's own (over their runs) and a
team's (over the team's runs, for its admins), over `services.alert_rules`.

One row per rule with a switch and a delete button, and a line to add one:
key or pattern (`gpu.*.temp`), comparison, value, for how many seconds, and
the channels its alerts go to. The service checks every value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from labdeck.backend.services import alert_rules

from .base import Form, Row, note
from .team_admin import TeamForm

COMPARISONS = (">", ">=", "<", "<=")
CHANNELS = ("email", "slack")


def describe(rule: dict[str, Any]) -> str:
    held = f" for {rule['duration_s']:g} s" if rule["duration_s"] else ""
    return f"{rule['key_pattern']} {rule['comparison']} {rule['value']:g}{held}"


def _bind(action: Callable[..., None], *args: Any) -> Callable[[], None]:
    """`action(*args)` for a button of one row."""
    return lambda: action(*args)


class RulesEditor:
    """The widgets both forms share; `service` is (list, create, patch, delete)."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.rows: dict[int, Row] = {}
        self.listing = w.VBox()
        self.key_pattern = w.Text(placeholder="gpu.*.temp", layout=w.Layout(width="220px"))
        self.comparison = w.Dropdown(options=COMPARISONS, value=">", layout=w.Layout(width="70px"))
        self.value = w.FloatText(value=90.0, layout=w.Layout(width="90px"))
        self.duration_s = w.FloatText(value=60.0, layout=w.Layout(width="90px"))
        self.channels = {
            c: w.Checkbox(value=c == "email", description=c, indent=False) for c in CHANNELS
        }
        self.add = form.button("Add rule", lambda: None, "primary")

    def widgets(self) -> list[w.Widget]:
        line = w.HBox(
            [
                self.key_pattern,
                self.comparison,
                self.value,
                note("for"),
                self.duration_s,
                note("s"),
                *self.channels.values(),
                self.add,
            ]
        )
        return [
            self.listing,
            self.form.field("key_pattern", line),
            self.form.field("value", w.HBox([])),
            self.form.field("duration_s", w.HBox([])),
            self.form.field("channels", w.HBox([])),
        ]

    def body(self) -> dict[str, Any]:
        return {
            "key_pattern": self.key_pattern.value,
            "comparison": self.comparison.value,
            "value": self.value.value,
            "duration_s": self.duration_s.value,
            "channels": [c for c, box in self.channels.items() if box.value],
        }

    def show(
        self,
        rules: list[dict[str, Any]],
        toggle: Callable[[int, bool], None],
        remove: Callable[[int], None],
    ) -> None:
        self.rows = {}
        for rule in rules:
            rule_id = int(rule["id"])
            cells = [
                w.Label(describe(rule), layout=w.Layout(width="300px")),
                note(", ".join(rule["channels"])),
            ]
            switch = self.form.button(
                "Turn off" if rule["enabled"] else "Turn on",
                _bind(toggle, rule_id, not rule["enabled"]),
            )
            delete = self.form.button("Delete", _bind(remove, rule_id), "danger")
            self.rows[rule_id] = self.form.row(cells, {"switch": switch, "delete": delete})
        self.listing.children = [row.box for row in self.rows.values()] or [
            note("No threshold rules.")
        ]


class AlertRulesForm(Form):
    """My threshold rules, over the runs I create."""

    title = "Threshold rules"

    def build(self) -> list[w.Widget]:
        self.editor = RulesEditor(self)
        self.editor.add.on_click(lambda _b: self._add())
        return [
            note("An alert when a metric of one of your runs stays past a value."),
            *self.editor.widgets(),
        ]

    def load(self) -> None:
        self.editor.show(
            alert_rules.list_my_rules(self.backend, self.actor), self._toggle, self._delete
        )

    def _add(self) -> None:
        body = self.editor.body()
        self.run(
            lambda: alert_rules.create_my_rule(self.backend, self.actor, body), done="Rule added."
        )

    def _toggle(self, rule_id: int, on: bool) -> None:
        self.run(
            lambda: alert_rules.patch_my_rule(self.backend, self.actor, rule_id, {"enabled": on}),
            done="Rule turned on." if on else "Rule turned off.",
            where=self.editor.rows[rule_id].error,
        )

    def _delete(self, rule_id: int) -> None:
        self.run(
            lambda: alert_rules.delete_my_rule(self.backend, self.actor, rule_id),
            done="Rule deleted.",
            where=self.editor.rows[rule_id].error,
        )


class TeamAlertRulesForm(TeamForm):
    """The team's threshold rules, over every run of its projects (admins)."""

    what = "Threshold rules"

    def build(self) -> list[w.Widget]:
        self.editor = RulesEditor(self)
        self.editor.add.on_click(lambda _b: self._add())
        return [
            note("Alerts go to the team's channels (see the team's alerts)."),
            *self.editor.widgets(),
        ]

    def load(self) -> None:
        rules = alert_rules.list_team_rules(self.backend, self.actor, self.team)
        self.editor.show(rules, self._toggle, self._delete)

    def _add(self) -> None:
        body = self.editor.body()
        self.run(
            lambda: alert_rules.create_team_rule(self.backend, self.actor, self.team, body),
            done="Rule added.",
        )

    def _toggle(self, rule_id: int, on: bool) -> None:
        self.run(
            lambda: alert_rules.patch_team_rule(
                self.backend, self.actor, self.team, rule_id, {"enabled": on}
            ),
            done="Rule turned on." if on else "Rule turned off.",
            where=self.editor.rows[rule_id].error,
        )

    def _delete(self, rule_id: int) -> None:
        self.run(
            lambda: alert_rules.delete_team_rule(self.backend, self.actor, self.team, rule_id),
            done="Rule deleted.",
            where=self.editor.rows[rule_id].error,
        )
