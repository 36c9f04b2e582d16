"""The permission tables as data, and the one function that decides.

`TABLE` mirrors `tests/data/permissions.csv` cell for cell (a test compares them);
the docs' table is generated from it (`labdeck.backend.permdocs`). Services
decide what is allowed only here: they build a `Subject` (what the actor is
on the team, and whether it owns the thing) and ask `allowed()` or
`require()`. The names of roles and account types, and the predicates on
them that are facts rather than permissions (who counts as a team's admin
for "a team keeps an admin", who sees a project), are `roles.py`'s.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import Forbidden
from .roles import TeamRole


class Column(str, enum.Enum):
    """The role columns of the tables."""

    VIEW_ONLY = "view_only"
    MEMBER = "member"
    REGISTRY_ADMIN = "registry_admin"
    TEAM_ADMIN = "team_admin"
    SYSTEM_ADMIN = "system_admin"


class Cell(str, enum.Enum):
    YES = "yes"
    NO = "no"
    OWN = "own"
    NA = "-"


@dataclass(frozen=True)
class Action:
    area: str
    name: str
    cells: dict[Column, Cell]
    source: str


_COLUMNS = (
    Column.VIEW_ONLY,
    Column.MEMBER,
    Column.REGISTRY_ADMIN,
    Column.TEAM_ADMIN,
    Column.SYSTEM_ADMIN,
)

# area, action, view_only, member, registry_admin, team_admin, system_admin, source
_ROWS: tuple[tuple[str, ...], ...] = (
    ("team", "view team settings", "no", "no", "-", "yes", "-", "seed text"),
    ("team", "add team members", "no", "no", "-", "yes", "-", "seed table"),
    ("team", "remove team members", "no", "no", "-", "yes", "-", "seed table"),
    ("team", "manage team settings", "no", "no", "-", "yes", "-", "seed table"),
    ("team", "invite members", "no", "no", "-", "yes", "-", "seed text"),
    ("team", "change member roles", "no", "no", "-", "yes", "-", "seed text"),
    ("team", "add or remove team admins", "no", "no", "-", "yes", "-", "seed text"),
    ("team", "manage service accounts", "no", "no", "-", "yes", "-", "labdeck"),
    ("team", "assign custom roles", "no", "no", "-", "yes", "-", "seed text"),
    ("team", "view team alert rules", "no", "yes", "-", "yes", "-", "labdeck"),
    ("team", "manage team alert rules", "no", "no", "-", "yes", "-", "labdeck"),
    ("model registry", "add aliases", "no", "yes", "yes", "yes", "-", "seed table"),
    ("model registry", "add models to the registry", "no", "yes", "yes", "yes", "-", "seed table"),
    (
        "model registry",
        "view models in the registry",
        "yes",
        "yes",
        "yes",
        "yes",
        "-",
        "seed table",
    ),
    ("model registry", "download models", "yes", "yes", "yes", "yes", "-", "seed table"),
    (
        "model registry",
        "add or remove registry admins",
        "no",
        "no",
        "yes",
        "yes",
        "-",
        "seed table",
    ),
    (
        "model registry",
        "add or remove protected aliases",
        "no",
        "no",
        "yes",
        "no",
        "-",
        "seed table",
    ),
    ("reports", "view reports", "yes", "yes", "-", "yes", "-", "seed table"),
    ("reports", "create reports", "no", "yes", "-", "yes", "-", "seed table"),
    ("reports", "edit reports", "no", "own", "-", "yes", "-", "seed table"),
    ("reports", "delete reports", "no", "own", "-", "yes", "-", "seed table"),
    ("reports", "follow reports", "yes", "yes", "-", "yes", "-", "seed text"),
    ("reports", "comment on reports", "yes", "yes", "-", "yes", "-", "seed text"),
    ("experiments", "view experiment metadata", "yes", "yes", "-", "yes", "-", "seed table"),
    (
        "experiments",
        "edit experiment panels and workspaces",
        "no",
        "yes",
        "-",
        "yes",
        "-",
        "seed table",
    ),
    ("experiments", "log experiments", "no", "yes", "-", "yes", "-", "seed table"),
    ("experiments", "delete experiments", "no", "own", "-", "yes", "-", "seed table"),
    ("experiments", "stop experiments", "no", "own", "-", "yes", "-", "seed table"),
    ("artifacts", "view artifacts", "yes", "yes", "-", "yes", "-", "seed table"),
    ("artifacts", "create artifacts", "no", "yes", "-", "yes", "-", "seed table"),
    ("artifacts", "delete artifacts", "no", "yes", "-", "yes", "-", "seed table"),
    ("artifacts", "edit metadata", "no", "yes", "-", "yes", "-", "seed table"),
    ("artifacts", "edit aliases", "no", "yes", "-", "yes", "-", "seed table"),
    ("artifacts", "delete aliases", "no", "yes", "-", "yes", "-", "seed table"),
    ("artifacts", "download artifact", "no", "yes", "-", "yes", "-", "seed table"),
    ("projects", "create projects", "no", "yes", "-", "yes", "-", "labdeck"),
    ("projects", "edit project overview", "no", "own", "-", "yes", "-", "seed text"),
    ("projects", "delete projects", "no", "no", "-", "yes", "-", "seed text"),
    ("system", "configure system settings", "no", "no", "-", "no", "yes", "seed table"),
    ("system", "create or delete teams", "no", "no", "-", "no", "yes", "seed table"),
    ("system", "create organizations and custom roles", "no", "no", "-", "no", "yes", "seed text"),
)

TABLE: dict[str, Action] = {
    row[1]: Action(
        area=row[0],
        name=row[1],
        cells={col: Cell(value) for col, value in zip(_COLUMNS, row[2:7], strict=True)},
        source=row[7],
    )
    for row in _ROWS
}

# Team roles as stored on a membership, and the column each one reads.
TEAM_ROLES: dict[str, Column] = {
    TeamRole.ADMIN: Column.TEAM_ADMIN,
    TeamRole.MEMBER: Column.MEMBER,
    TeamRole.VIEW_ONLY: Column.VIEW_ONLY,
}
# Actions a custom role may add: every team-scoped action (system rows are an
# account type's, never a team role's).
CUSTOMIZABLE_ACTIONS = tuple(name for name, a in TABLE.items() if a.area != "system")
# What an `open` project lets anyone signed in do there besides what a
# view-only member may; its team's members get it too, on top of their role
# (`access.subject_on_project`), so an open project never gives an outsider
# more than the team's members have.
OPEN_PROJECT_GRANT = frozenset({"log experiments", "create reports"})


@dataclass(frozen=True)
class Subject:
    """What an actor is, for one decision.

    `team_role` is the membership's role (None for a non-member),
    `extra_actions` the custom role's additions, `registry_admin` the team's
    flag, `system_admin` the account type, `owns` whether the actor created
    the thing the action is about (None where no single thing is concerned).
    """

    team_role: str | None = None
    registry_admin: bool = False
    system_admin: bool = False
    extra_actions: frozenset[str] = field(default_factory=frozenset)
    owns: bool | None = None

    def columns(self) -> Iterable[Column]:
        if self.team_role is not None:
            yield TEAM_ROLES[self.team_role]
            if self.registry_admin:
                yield Column.REGISTRY_ADMIN
        if self.system_admin:
            yield Column.SYSTEM_ADMIN


def allowed(action: str, subject: Subject) -> bool:
    """Any column the subject holds that grants the action allows it; `own`
    grants only on what the subject created; a custom role's extras grant."""
    row = TABLE[action]
    if subject.team_role is not None and action in subject.extra_actions:
        return True
    for column in subject.columns():
        cell = row.cells[column]
        if cell is Cell.YES or (cell is Cell.OWN and subject.owns):
            return True
    return False


def require(action: str, subject: Subject) -> None:
    """Raise `Forbidden` naming the permission when `allowed()` says no."""
    if action not in TABLE:
        raise KeyError(f"unknown action {action!r}")
    if not allowed(action, subject):
        raise Forbidden(f"you do not have the permission to {action}")
