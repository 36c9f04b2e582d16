"""The API keys form (F-ID-3), over `services.apikeys`: create (the secret
is shown here once and never again), list by prefix, revoke."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from labdeck.backend.services import apikeys

from .base import WIDE, Form, Row, day, hide, note


class SecretBox:
    """A just-created secret with the warning that it will not be shown
    again; cleared by the form's next action, so it lives on screen only
    until the user moves on."""

    def __init__(self) -> None:
        self.value = w.Text(layout=WIDE, description="Secret")
        self.warning = note("Copy it now: labdeck stores only its hash and cannot show it again.")
        self.box = w.VBox([self.value, self.warning])
        self.clear()

    def show(self, secret: str) -> None:
        self.value.value = secret
        hide(self.box, False)

    def clear(self) -> None:
        self.value.value = ""
        hide(self.box)


class ApiKeysForm(Form):
    title = "API keys"

    def build(self) -> list[w.Widget]:
        self.rows: dict[int, Row] = {}
        self.listing = w.VBox()
        self.name = w.Text(layout=WIDE, placeholder="what the key is for (optional)")
        self.create = self.button("Create key", self._create, "primary")
        self.secret = SecretBox()
        return [
            self.listing,
            self.field("name", w.HBox([self.name, self.create])),
            self.secret.box,
        ]

    def load(self) -> None:
        self.rows = {
            int(key["id"]): self._row(key) for key in apikeys.list_keys(self.backend, self.actor)
        }
        self.listing.children = [row.box for row in self.rows.values()] or [note("No API keys.")]

    def _row(self, key: dict[str, Any]) -> Row:
        key_id = int(key["id"])
        cells = [
            w.HTML(f"<code>{html.escape(key['prefix'])}…</code>", layout=w.Layout(width="160px")),
            w.Label(key["name"] or "(no name)", layout=w.Layout(width="200px")),
            note(f"created {day(key['created_at'])}, last used {day(key['last_used_at'])}"),
        ]
        revoke = self.button("Revoke", lambda: self._revoke(key_id), "danger")
        return self.row(cells, {"revoke": revoke})

    def clear(self) -> None:
        super().clear()
        self.secret.clear()

    def _create(self) -> None:
        name = self.name.value
        outcome = self.run(
            lambda: apikeys.create_key(self.backend, self.actor, name), done="Key created."
        )
        if outcome.ok and outcome.value is not None:
            self.name.value = ""
            self.secret.show(outcome.value["secret"])

    def _revoke(self, key_id: int) -> None:
        self.run(
            lambda: apikeys.revoke_key(self.backend, self.actor, key_id),
            done="Key revoked.",
            where=self.rows[key_id].error,
        )
