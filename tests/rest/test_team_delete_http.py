"""`DELETE /teams/{team}` with `{"confirm": "<team>"}` (docs/api.md): system admins
only; the team and its projects are gone (files: tests/backend/test_deletion_purges_files.py)."""

from __future__ import annotations

from typing import Any


async def test_a_system_admin_deletes_a_team_over_http(api_as: Any, make_user: Any) -> None:
    root, bob = make_user("root", admin=True), make_user("bob")
    api, bob_api = api_as(root), api_as(bob)
    code, _ = await api("POST", "/teams", {"name": "lab", "type": "work", "organization": "org1"})
    assert code == 201
    code, _ = await api("POST", "/projects/lab", {"name": "exp", "visibility": "team"})
    assert code == 201
    code, err = await bob_api("DELETE", "/teams/lab", {"confirm": "lab"})
    assert code == 404, err
    code, err = await api("DELETE", "/teams/lab", {"confirm": "nope"})
    assert code == 422 and err["field"] == "confirm", err
    code, err = await api("DELETE", "/teams/lab", {})
    assert code == 422 and err["field"] == "confirm", err
    code, err = await api("DELETE", "/teams/lab", {"confirm": "lab"})
    assert code == 204, err
    code, _ = await api("GET", "/teams/lab")
    assert code == 404
    code, _ = await api("GET", "/projects/lab/exp")
    assert code == 404
