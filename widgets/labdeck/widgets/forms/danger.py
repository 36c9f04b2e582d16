"""Deleting one's account (F-US-6), over `services.account`.

The user types their user name; the service compares it and refuses while
the user is the last admin of a team, so the form only passes on what was
typed and, once the account is gone, locks itself: every later call would
be refused as coming from an account that no longer exists.
"""

from __future__ import annotations

import ipywidgets as w

from labdeck.backend.services import account, profile

from .base import ERROR_COLOUR, Form, note


class DeleteAccountForm(Form):
    title = "Delete account"

    def build(self) -> list[w.Widget]:
        self.warning = note(
            "Irreversible: your profile, emails, API keys, memberships and personal projects "
            "are deleted. Runs you logged to team projects stay, attributed to a deleted user.",
            ERROR_COLOUR,
        )
        self.confirm = w.Text(placeholder="your user name")
        self.delete = self.button("Delete my account", self._delete, "danger")
        return [self.warning, self.field("confirm", w.HBox([self.confirm, self.delete]))]

    def load(self) -> None:
        username = profile.get_profile(self.backend, self.actor)["username"]
        self.confirm.description = "Type " + str(username)
        self.confirm.style.description_width = "initial"

    def _delete(self) -> None:
        typed = self.confirm.value
        outcome = self.run(
            lambda: account.delete_account(self.backend, self.actor, typed),
            done="Your account was deleted.",
            refresh=False,
        )
        if outcome.ok:
            self.confirm.disabled = True
            self.delete.disabled = True
