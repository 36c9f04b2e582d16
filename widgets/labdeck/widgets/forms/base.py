"""The small frame every settings form is built on.

A form is a view over backend services and nothing more: it reads through
a service, sends what the user typed to a service, and shows the service's
answer. Every rule (validation, permissions, invariants) stays in the
services, so a form never decides whether a value is acceptable; it shows
the `LabdeckError` a service raised beside the field that the error names,
and because one service call is one transaction, a refused action leaves
the database exactly as it was.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ipywidgets as w

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import LabdeckError
from labdeck.backend.storage import human_bytes

T = TypeVar("T")

ERROR_COLOUR = "#c62828"
OK_COLOUR = "#2e7d32"
MUTED_COLOUR = "#616161"
WIDE = w.Layout(width="420px")


def error_label() -> w.Label:
    """A Label, not HTML: messages quote what the user typed, and a Label
    shows it as text whatever it contains."""
    return w.Label("", style={"text_color": ERROR_COLOUR})


def note(text: str = "", colour: str = MUTED_COLOUR) -> w.Label:
    return w.Label(text, style={"text_color": colour})


def heading(text: str) -> w.HTML:
    return w.HTML(f"<b>{html.escape(text)}</b>")


def day(timestamp: str | None) -> str:
    """An ISO timestamp from a service as the date and minute a person reads."""
    if not timestamp:
        return "never"
    return timestamp[:16].replace("T", " ")


def hide(widget: w.Widget, hidden: bool = True) -> None:
    widget.layout.display = "none" if hidden else None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What `Form.run` did: `ok` is False when the service refused (the
    message is already on screen); `value` is the service's answer."""

    ok: bool
    value: T | None = None


class Row:
    """One listed item (an email, a key, a member): its cells, its controls
    by name (so code and tests find "the delete button of this row"), and an
    error label of its own for what its actions are refused."""

    def __init__(self, cells: Iterable[w.Widget], controls: Mapping[str, w.Widget]) -> None:
        self.controls = dict(controls)
        self.error = error_label()
        self.box = w.HBox([*cells, *self.controls.values(), self.error])

    def __getitem__(self, name: str) -> Any:
        return self.controls[name]


class Form:
    """A titled box with an error label per field, a form-level error label
    and a status line.

    Subclasses set what they need (a team name, ...) before calling
    `super().__init__`, return their widgets from `build()`, fill them from
    services in `load()`, and route every change through `run()`.
    """

    title = ""

    def __init__(self, backend: Backend, actor: Actor) -> None:
        self.backend = backend
        self.actor = actor
        self.errors: dict[str, w.Label] = {}
        self.error = error_label()
        self.status = note(colour=OK_COLOUR)
        self._row_errors: list[w.Label] = []
        self.body = w.VBox(self.build())
        self.widget = w.VBox([heading(self.title), self.body, self.error, self.status])
        self.refresh()

    # -- for subclasses -------------------------------------------------------

    def build(self) -> list[w.Widget]:
        """The form's widgets, made once."""
        return []

    def load(self) -> None:
        """Fill the widgets from the services' current answers."""

    def field(self, name: str, control: w.Widget, description: str = "") -> w.HBox:
        """`control` with the error label for the service field `name` beside it."""
        if description:
            control.description = description
            control.style.description_width = "120px"
        label = error_label()
        self.errors[name] = label
        return w.HBox([control, label])

    def button(self, description: str, on_click: Callable[[], object], style: str = "") -> w.Button:
        button = w.Button(description=description, button_style=style)
        button.on_click(lambda _button: on_click())
        return button

    def row(self, cells: Iterable[w.Widget], controls: Mapping[str, w.Widget]) -> Row:
        made = Row(cells, controls)
        self._row_errors.append(made.error)
        return made

    # -- the one path to a service --------------------------------------------

    def run(
        self,
        action: Callable[[], T],
        *,
        done: str = "Saved.",
        where: w.Label | None = None,
        refresh: bool = True,
    ) -> Outcome[T]:
        """Call a service. On a `LabdeckError` show its message beside its
        field (or at `where`, or at the form level) and change nothing on
        screen; on success reload the form from the services and say `done`."""
        self.clear()
        try:
            value = action()
        except LabdeckError as exc:
            (where or self.label_for(exc.field)).value = exc.message
            return Outcome(False)
        if refresh:
            self.refresh()
        self.status.value = done
        return Outcome(True, value)

    def refresh(self) -> None:
        self._row_errors = []
        try:
            self.load()
        except LabdeckError as exc:
            self.error.value = exc.message

    def clear(self) -> None:
        for label in (*self.errors.values(), *self._row_errors, self.error, self.status):
            label.value = ""

    def label_for(self, field: str | None) -> w.Label:
        """The label of `field`, else of its nearest dotted parent
        (`alerts.events.run_finished.slack` falls back to `alerts.events`),
        else the form's own."""
        name = field or ""
        while name:
            if name in self.errors:
                return self.errors[name]
            name = name.rpartition(".")[0]
        return self.error

    def messages(self) -> list[str]:
        """Every error shown right now (for tests and for the notebook)."""
        labels = (*self.errors.values(), *self._row_errors, self.error)
        return [label.value for label in labels if label.value]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


class UsageBar:
    """Used / quota as a bar and a line of text (F-US-7, F-TS-5)."""

    def __init__(self) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=100, layout=WIDE)
        self.text = w.Label("")
        self.box = w.VBox([self.bar, self.text])

    def show(self, usage: Mapping[str, Any]) -> None:
        percent = float(usage["percent"])
        self.bar.value = max(0, min(100, round(percent)))
        self.bar.bar_style = "danger" if percent >= 90 else "success"
        self.text.value = (
            f"{human_bytes(int(usage['used_bytes']))} of "
            f"{human_bytes(int(usage['quota_bytes']))} used ({percent:g} %)"
        )


def readable(name: str) -> str:
    """`run_finished` → `Run finished`: identifiers from services, for people."""
    return name.replace("_", " ").capitalize()


class SwitchGrid:
    """An event × channel grid of checkboxes (user and team alerts)."""

    def __init__(self) -> None:
        self.switches: dict[tuple[str, str], w.Checkbox] = {}
        self.box = w.VBox()

    def show(self, events: Mapping[str, Mapping[str, bool]]) -> None:
        channels = list(dict.fromkeys(c for channels in events.values() for c in channels))
        self.switches = {}
        header = w.HBox([w.Label("", layout=w.Layout(width="160px"))])
        header.children += tuple(
            w.Label(readable(c), layout=w.Layout(width="80px")) for c in channels
        )
        lines = [header]
        for event, states in events.items():
            cells: list[w.Widget] = [w.Label(readable(event), layout=w.Layout(width="160px"))]
            for channel in channels:
                box = w.Checkbox(
                    value=bool(states.get(channel, False)),
                    indent=False,
                    layout=w.Layout(width="80px"),
                )
                self.switches[(event, channel)] = box
                cells.append(box)
            lines.append(w.HBox(cells))
        self.box.children = lines

    def values(self) -> dict[str, dict[str, bool]]:
        events: dict[str, dict[str, bool]] = {}
        for (event, channel), box in self.switches.items():
            events.setdefault(event, {})[channel] = bool(box.value)
        return events


def uploaded_bytes(value: Any) -> bytes | None:
    """The content of the first file of a `FileUpload` value (ipywidgets 8:
    a tuple of dicts with a memoryview `content`), or None when empty."""
    if not value:
        return None
    return bytes(value[0]["content"])
