"""REST: what the JupyterLab panel and status bar read beyond the core API
(`routes/lab.py`): the permission table's answers for the caller, and the
running run of a Jupyter kernel with the newest value of each metric."""

from __future__ import annotations

from typing import Any

import pytest
from world import acme_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.permissions import CUSTOMIZABLE_ACTIONS, TABLE
from labdeck.backend.services import members, orgs, projects


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Actor]:
    """Team acme (organization acme-org): alice admin (an admin account),
    bob and carol members, vera view-only, ivan a custom role that may invite;
    olga is an outsider. bob's project acme/vision."""
    people = acme_team(backend, make_user, through_services=True)
    people["ivan"] = make_user("ivan")
    orgs.create_custom_role(
        backend, people["alice"], "acme-org", "inviter", "view_only", ["invite members"]
    )
    members.add_member(backend, people["alice"], "acme", "ivan", "inviter")
    projects.create_project(backend, people["bob"], "acme", "vision", "team")
    return people


async def test_account_permissions_follow_the_account_type(
    api_as: Any, world: dict[str, Actor]
) -> None:
    code, admin = await api_as(world["alice"])("GET", "/me/permissions")
    system_rows = [name for name, action in TABLE.items() if action.area == "system"]
    assert code == 200 and admin["actions"] == system_rows
    code, user = await api_as(world["bob"])("GET", "/me/permissions")
    assert code == 200 and user["actions"] == []


async def test_team_permissions_are_the_table_for_each_role(
    api_as: Any, world: dict[str, Actor]
) -> None:
    def granted(role: str) -> set[str]:
        return {n for n, a in TABLE.items() if a.area != "system" and a.cells[role].value == "yes"}

    alice, bob, vera, ivan, olga = (
        api_as(world[n]) for n in ("alice", "bob", "vera", "ivan", "olga")
    )
    code, mine = await alice("GET", "/teams/acme/permissions")
    assert code == 200 and mine["team"] == "acme" and mine["organization"] == "acme-org"
    assert mine["organization_admin"] is True
    assert set(mine["actions"]) == granted("team_admin")
    assert "invite members" in mine["actions"] and "change member roles" in mine["actions"]
    assert mine["custom_role_actions"] == list(CUSTOMIZABLE_ACTIONS)

    code, member = await bob("GET", "/teams/ACME/permissions")
    assert code == 200 and set(member["actions"]) == granted("member")
    assert "invite members" not in member["actions"] and "log experiments" in member["actions"]
    assert member["organization_admin"] is False

    code, viewer = await vera("GET", "/teams/acme/permissions")
    assert code == 200 and set(viewer["actions"]) == granted("view_only")
    assert "invite members" not in viewer["actions"]
    # A custom role's extra action is granted on top of its base role.
    code, custom = await ivan("GET", "/teams/acme/permissions")
    assert code == 200 and set(custom["actions"]) == granted("view_only") | {"invite members"}
    # An outsider learns nothing, not even that the team exists.
    code, err = await olga("GET", "/teams/acme/permissions")
    assert code == 404 and err["error"] == "not_found"


async def test_kernel_run_is_my_running_run_of_that_kernel_with_latest_values(
    api_as: Any, world: dict[str, Actor]
) -> None:
    bob, alice = api_as(world["bob"]), api_as(world["alice"])
    code, run = await bob(
        "POST",
        "/projects/acme/vision/runs",
        {"name": "train", "system": {"jupyter_kernel_id": "k-123", "interval": 1.0}},
    )
    assert code == 201
    # Another running run of bob's, from another kernel, must not be answered.
    code, _other = await bob(
        "POST", "/projects/acme/vision/runs", {"system": {"jupyter_kernel_id": "k-999"}}
    )
    assert code == 201
    samples = [
        {"t": 1000.0, "values": {"cpu": 10.0, "proc.memory.rssMB": 100.0}},
        {"t": 1001.0, "values": {"cpu": 55.5, "proc.memory.rssMB": 120.0}},
        {"t": 1002.0, "values": {"gpu.0.gpu": 80.0}},
    ]
    code, written = await bob("POST", f"/runs/{run['id']}/metrics", {"samples": samples})
    assert code == 200 and written["written"] == 5

    code, found = await bob("GET", "/me/kernels/k-123/run")
    assert code == 200 and found["run"]["id"] == run["id"] and found["run"]["name"] == "train"
    assert found["run"]["state"] == "running"
    # The newest point of each series, whenever each series last had one.
    assert found["latest"] == {"cpu": 55.5, "proc.memory.rssMB": 120.0, "gpu.0.gpu": 80.0}
    assert found["latest_t"] == 1002.0

    # Someone else, even a team admin who may see the run, gets no run for that kernel.
    code, theirs = await alice("GET", "/me/kernels/k-123/run")
    assert code == 200 and theirs == {"run": None, "latest": {}, "latest_t": None}
    code, unknown = await bob("GET", "/me/kernels/nope/run")
    assert code == 200 and unknown["run"] is None

    # Once stopped, the kernel records nothing: the status bar hides.
    code, _ = await bob("POST", f"/runs/{run['id']}/stop")
    assert code == 200
    code, ended = await bob("GET", "/me/kernels/k-123/run")
    assert code == 200 and ended["run"] is None

    code, err = await bob("GET", "/me/kernels/" + "k" * 200 + "/run")
    assert code == 422 and err["field"] == "kernel_id"
