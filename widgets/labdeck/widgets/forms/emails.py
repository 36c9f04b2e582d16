"""The email addresses form (F-EM-1..5), over `services.emails`.

Each address offers what can be asked of it: make primary (any address but
the primary one), resend the verification (unverified ones), delete (every
address: deleting the primary is refused by the service, with the reason).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labdeck.backend.services import emails

from .base import ERROR_COLOUR, OK_COLOUR, WIDE, Form, Row, note


class EmailsForm(Form):
    title = "Email addresses"

    def build(self) -> list[w.Widget]:
        self.rows: dict[str, Row] = {}
        self.listing = w.VBox()
        self.address = w.Text(layout=WIDE, placeholder="name@example.org")
        self.add = self.button("Add email", self._add, "primary")
        return [
            self.listing,
            self.field("address", w.HBox([self.address, self.add])),
        ]

    def load(self) -> None:
        self.rows = {}
        for email in emails.list_emails(self.backend, self.actor):
            self.rows[email["address"]] = self._row(email)
        self.listing.children = [row.box for row in self.rows.values()] or [
            note("No email addresses yet.")
        ]

    def _row(self, email: dict[str, Any]) -> Row:
        email_id = int(email["id"])
        verified = bool(email["verified"])
        # F-EM-1: an unverified address is shown in red.
        colour = None if verified else ERROR_COLOUR
        cells = [
            w.Label(email["address"], style={"text_color": colour}, layout=w.Layout(width="260px")),
            w.Label("primary" if email["primary"] else "", layout=w.Layout(width="70px")),
            w.Label(
                "verified" if verified else "unverified",
                style={"text_color": colour or OK_COLOUR},
                layout=w.Layout(width="80px"),
            ),
            note(", ".join(email["login_methods"]) or "no log-in method"),
        ]
        address = str(email["address"])
        controls: dict[str, w.Widget] = {}
        if not email["primary"]:
            controls["primary"] = self.button(
                "Make primary", lambda: self._primary(email_id, address)
            )
        if not verified:
            controls["resend"] = self.button(
                "Resend verification", lambda: self._resend(email_id, address)
            )
        controls["delete"] = self.button(
            "Delete", lambda: self._delete(email_id, address), "danger"
        )
        return self.row(cells, controls)

    def _add(self) -> None:
        address = self.address.value
        outcome = self.run(
            lambda: emails.add_email(self.backend, self.actor, address),
            done=f"Added {address.strip()}.",
        )
        if outcome.ok and outcome.value is not None:
            self.address.value = ""
            # Whether the link was emailed, or this server sends no mail.
            self.status.value = f"{self.status.value} {outcome.value['mail']['message']}"

    def _primary(self, email_id: int, address: str) -> None:
        self.run(
            lambda: emails.make_primary(self.backend, self.actor, email_id),
            done=f"{address} is now your primary address.",
            where=self.rows[address].error,
        )

    def _resend(self, email_id: int, address: str) -> None:
        outcome = self.run(
            lambda: emails.resend_verification(self.backend, self.actor, email_id),
            done="A new verification link was made.",
            where=self.rows[address].error,
        )
        if outcome.ok and outcome.value is not None:
            self.status.value = f"{self.status.value} {outcome.value['mail']['message']}"

    def _delete(self, email_id: int, address: str) -> None:
        self.run(
            lambda: emails.delete_email(self.backend, self.actor, email_id),
            done=f"Deleted {address}.",
            where=self.rows[address].error,
        )
