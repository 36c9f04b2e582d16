"""Every row of permissions.csv, through the services: for each role column,
the allowed case succeeds and the refused case raises Forbidden; `own` cells
are checked as creator (allowed), another member (refused) and team admin
(allowed)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from matrix_report import MATRIX_CHECKS
from permission_world import ATTEMPTS, World, build_world

from labdeck.backend.errors import Forbidden

ROWS = list(csv.DictReader(open(Path(__file__).parent.parent / "data" / "permissions.csv")))
COLUMNS = ("view_only", "member", "registry_admin", "team_admin", "system_admin")


def test_every_csv_row_has_an_attempt() -> None:
    assert [r["action"] for r in ROWS] == list(ATTEMPTS)
    print(f"\npermission matrix: {len(ROWS)} rows of permissions.csv have a service attempt")


def check_row(world: World, row: dict[str, str]) -> int:
    attempt = ATTEMPTS[row["action"]]
    checked = 0
    for column in COLUMNS:
        cell = row[column]
        if cell == "-":
            continue
        who = world.column(column)
        if cell == "yes":
            # On a thing a member made: a team admin's "yes" covers others' things.
            attempt(world, who, world.mem)
        elif cell == "no":
            with pytest.raises(Forbidden):
                attempt(world, who, world.mem)
        elif cell == "own":
            attempt(world, who, who)
            with pytest.raises(Forbidden):
                attempt(world, world.mem2, world.mem)
        checked += 1
    return checked


@pytest.mark.parametrize("row", ROWS, ids=[r["action"] for r in ROWS])
def test_permission_row(backend, row) -> None:
    world = build_world(backend)
    assert check_row(world, row) > 0
    MATRIX_CHECKS.setdefault("services", set()).add(row["action"])
