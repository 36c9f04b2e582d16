"""The profile form (F-US-1) with its picture upload (F-US-2), over
`services.profile`."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labdeck.backend.services import profile

from .base import WIDE, Form, hide, note, uploaded_bytes

ACCEPTED_IMAGES = "image/png,image/jpeg,image/gif,image/webp"


class ProfileForm(Form):
    """Name, institution, biography, location, website and picture. Saving
    sends every field at once: the service applies all of them or none."""

    title = "Profile"

    def build(self) -> list[w.Widget]:
        self.who = note()
        self.inputs: dict[str, w.Text | w.Textarea] = {
            "name": w.Text(layout=WIDE),
            "institution": w.Text(layout=WIDE),
            "bio": w.Textarea(layout=w.Layout(width="420px", height="90px")),
            "location": w.Text(layout=WIDE),
            "website": w.Text(layout=WIDE, placeholder="https://…"),
        }
        labels = {
            "name": "Name",
            "institution": "Institution",
            "bio": "Biography",
            "location": "Location",
            "website": "Website",
        }
        self.save = self.button("Save profile", self._save, "primary")
        self.picture = w.Image(format="png", width=96, height=96)
        self.upload = w.FileUpload(accept=ACCEPTED_IMAGES, multiple=False, description="Upload")
        self.upload.observe(self._uploaded, names="value")
        self.remove_picture = self.button("Remove picture", self._remove_picture)
        return [
            self.who,
            *(self.field(name, box, labels[name]) for name, box in self.inputs.items()),
            self.save,
            w.HTML("<b>Picture</b> (PNG, JPEG, GIF or WebP; stored as a square thumbnail)"),
            self.picture,
            self.field("avatar", w.HBox([self.upload, self.remove_picture])),
        ]

    def load(self) -> None:
        shown = profile.get_profile(self.backend, self.actor)
        self.username = str(shown["username"])
        self.who.value = f"{self.username} ({shown['account_type']} account)"
        for name, box in self.inputs.items():
            box.value = shown[name] or ""
        has_picture = shown["avatar_url"] is not None
        if has_picture:
            self.picture.value = profile.get_avatar(self.backend, self.actor, self.username)
        hide(self.picture, not has_picture)
        hide(self.remove_picture, not has_picture)

    def _save(self) -> None:
        changes = {name: box.value for name, box in self.inputs.items()}
        self.run(
            lambda: profile.update_profile(self.backend, self.actor, changes),
            done="Profile saved.",
        )

    def _uploaded(self, change: dict[str, Any]) -> None:
        data = uploaded_bytes(change["new"])
        if data is None:
            return
        # Emptied so that uploading the same file again is seen as a change.
        self.upload.value = ()
        self.run(
            lambda: profile.set_avatar(self.backend, self.actor, data),
            done="Picture updated.",
        )

    def _remove_picture(self) -> None:
        self.run(
            lambda: profile.delete_avatar(self.backend, self.actor),
            done="Picture removed.",
        )
