"""Generate the docs' permission table from `permissions.TABLE`.

Run `python -m labdeck.backend.permdocs > docs/permissions.md`; a test fails
when the committed page differs, so the docs can never drift from the code.
"""

from __future__ import annotations

from .permissions import _COLUMNS, OPEN_PROJECT_GRANT, TABLE, Cell

_SYMBOL = {Cell.YES: "✓", Cell.NO: "✗", Cell.OWN: "own", Cell.NA: "–"}


def render() -> str:
    lines = [
        "# Permissions",
        "",
        "Generated from `labdeck/backend/permissions.py` by",
        "`python -m labdeck.backend.permdocs`; do not edit by hand.",
        "",
        "✓ allowed, ✗ refused, own: only on what that user created, – the role does not apply.",
        "A registry admin is a team member whom the team made registry admin; the system",
        "admin is an admin account. Refusals answer 403 naming the permission.",
        "",
        "On a project whose visibility is `open`, anyone signed in acts as a view-only",
        "member who may also " + " and ".join(sorted(OPEN_PROJECT_GRANT)) + "; every member",
        "of the project's team gets the same on top of their role, so an open project",
        "never gives an outsider more than the team's members have.",
    ]
    area = None
    header = "| action | " + " | ".join(c.value for c in _COLUMNS) + " |"
    for action in TABLE.values():
        if action.area != area:
            area = action.area
            lines += ["", f"## {area}", "", header, "|---" * (len(_COLUMNS) + 1) + "|"]
        cells = " | ".join(_SYMBOL[action.cells[c]] for c in _COLUMNS)
        lines.append(f"| {action.name} | {cells} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
