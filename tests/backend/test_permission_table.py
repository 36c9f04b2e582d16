"""The code table is the CSV, cell for cell; the docs are generated from it."""

from __future__ import annotations

import csv
from pathlib import Path

from labdeck.backend import permdocs
from labdeck.backend.permissions import _COLUMNS, TABLE, Subject, allowed

DATA = Path(__file__).parent.parent / "data"
ROOT = Path(__file__).parent.parent.parent


def _csv_rows() -> list[dict[str, str]]:
    with open(DATA / "permissions.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_code_table_matches_csv_cell_for_cell() -> None:
    rows = _csv_rows()
    assert [r["action"] for r in rows] == list(TABLE), "actions or their order differ"
    checked = 0
    for row in rows:
        action = TABLE[row["action"]]
        assert action.area == row["area"]
        assert action.source == row["source"]
        for column in _COLUMNS:
            assert action.cells[column].value == row[column.value], (row["action"], column)
            checked += 1
    print(f"\npermission table: {len(rows)} rows, {checked} cells match permissions.csv")


def test_docs_are_generated_from_the_table() -> None:
    committed = (ROOT / "docs" / "permissions.md").read_text()
    assert committed == permdocs.render(), (
        "docs/permissions.md is stale: run python -m labdeck.backend.permdocs > docs/permissions.md"
    )


def test_own_cells_need_ownership() -> None:
    assert allowed("delete experiments", Subject(team_role="member", owns=True))
    assert not allowed("delete experiments", Subject(team_role="member", owns=False))
    assert allowed("delete experiments", Subject(team_role="admin", owns=False))


def test_registry_admin_column_adds_to_the_team_role() -> None:
    admin = Subject(team_role="admin")
    assert not allowed("add or remove protected aliases", admin)
    assert allowed(
        "add or remove protected aliases", Subject(team_role="member", registry_admin=True)
    )


def test_custom_role_extras_and_system_rows() -> None:
    custom = Subject(team_role="view_only", extra_actions=frozenset({"log experiments"}))
    assert allowed("log experiments", custom)
    assert not allowed("create reports", custom)
    assert allowed("create or delete teams", Subject(system_admin=True))
    assert not allowed("create or delete teams", Subject(team_role="admin"))
    assert not allowed("view reports", Subject(system_admin=True))
