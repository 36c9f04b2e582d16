"""Organizations, custom roles and Models/Weave access (F-TM-1, F-TM-2, F-TM-5)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import Base
from labdeck.backend.permissions import CUSTOMIZABLE_ACTIONS
from labdeck.backend.services import members, orgs, teams


def snapshot(backend):
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def people(backend, make_user):
    root = make_user("root", admin=True)
    alice = make_user("alice")
    bob = make_user("bob")
    return root, alice, bob


def test_admin_account_creates_org_and_administers_it(backend, people):
    root, alice, _bob = people
    org = orgs.create_org(backend, root, "Acme")
    assert org["name"] == "acme" and org["my_role"] == "admin"
    assert [o["name"] for o in orgs.list_orgs(backend, root)] == ["acme"]
    assert orgs.list_orgs(backend, alice) == []


def test_user_account_cannot_create_org(backend, people):
    _root, alice, _bob = people
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="create organizations and custom roles"):
        orgs.create_org(backend, alice, "acme")
    assert snapshot(backend) == before


@pytest.mark.parametrize("name", ["ab", "a b", "x" * 65, 123, None, "ünïcode", "acme;drop", ""])
def test_org_name_rules(backend, people, name):
    root, _alice, _bob = people
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        orgs.create_org(backend, root, name)
    assert err.value.field == "name"
    assert snapshot(backend) == before


def test_org_names_are_unique_case_insensitively(backend, people):
    root, _alice, _bob = people
    orgs.create_org(backend, root, "acme")
    before = snapshot(backend)
    with pytest.raises(Conflict):
        orgs.create_org(backend, root, "ACME")
    assert snapshot(backend) == before


def test_admin_accounts_list_every_org_members_only_theirs(backend, make_user, people):
    root, alice, _bob = people
    other_admin = make_user("carol", admin=True)
    orgs.create_org(backend, other_admin, "globex")
    teams.create_team(backend, root, "mlteam", "work", "acme")
    members.add_member(backend, root, "mlteam", "alice", "member")
    listed = {o["name"]: o["my_role"] for o in orgs.list_orgs(backend, root)}
    assert listed == {"acme": "admin", "globex": None}
    assert [(o["name"], o["my_role"]) for o in orgs.list_orgs(backend, alice)] == [
        ("acme", "member")
    ]


def test_custom_role_created_by_org_admin_account(backend, people):
    root, alice, _bob = people
    orgs.create_org(backend, root, "acme")
    role = orgs.create_custom_role(
        backend,
        root,
        "acme",
        "Auditor",
        "view_only",
        ["view team settings", "create reports", "view team settings"],
    )
    assert role["name"] == "auditor"
    assert role["base_role"] == "view_only"
    # De-duplicated, in the order of the permission table.
    assert role["permissions"] == ["view team settings", "create reports"]
    assert orgs.list_custom_roles(backend, root, "acme") == [role]


def test_custom_roles_need_an_admin_account_that_administers_the_org(backend, make_user, people):
    root, alice, bob = people
    orgs.create_org(backend, root, "acme")
    teams.create_team(backend, root, "mlteam", "work", "acme")
    members.add_member(backend, root, "mlteam", "alice", "member")
    # An org admin who is not an admin account: the table's system column refuses.
    orgs.set_org_member_access(backend, root, "acme", "alice", {"admin": True})
    carol = make_user("carol", admin=True)
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="create organizations and custom roles"):
        orgs.create_custom_role(backend, alice, "acme", "auditor", "member", [])
    # An admin account that does not administer this org.
    with pytest.raises(Forbidden, match="administrators of the organization acme"):
        orgs.create_custom_role(backend, carol, "acme", "auditor", "member", [])
    # Outsiders do not learn the org exists.
    with pytest.raises(NotFound):
        orgs.create_custom_role(backend, bob, "acme", "auditor", "member", [])
    with pytest.raises(NotFound):
        orgs.list_custom_roles(backend, bob, "acme")
    assert snapshot(backend) == before


@pytest.mark.parametrize(
    ("name", "base", "perms", "field"),
    [
        ("admin", "member", [], "name"),
        ("member", "member", [], "name"),
        ("view_only", "view_only", [], "name"),
        ("x", "member", [], "name"),
        ("auditor", "admin", [], "base_role"),
        ("auditor", "owner", [], "base_role"),
        ("auditor", "member", ["create or delete teams"], "permissions"),
        ("auditor", "member", ["configure system settings"], "permissions"),
        ("auditor", "member", ["fly"], "permissions"),
        ("auditor", "member", "create reports", "permissions"),
        ("auditor", "member", [None], "permissions"),
        ("auditor", "member", [["create reports"]], "permissions"),
    ],
)
def test_custom_role_input_rules(backend, people, name, base, perms, field):
    root, _alice, _bob = people
    orgs.create_org(backend, root, "acme")
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        orgs.create_custom_role(backend, root, "acme", name, base, perms)
    assert err.value.field == field
    assert snapshot(backend) == before


def test_every_team_action_can_be_added_and_names_are_unique_per_org(backend, people):
    root, _alice, _bob = people
    orgs.create_org(backend, root, "acme")
    orgs.create_org(backend, root, "globex")
    full = orgs.create_custom_role(
        backend, root, "acme", "power", "member", list(CUSTOMIZABLE_ACTIONS)
    )
    assert full["permissions"] == list(CUSTOMIZABLE_ACTIONS)
    with pytest.raises(Conflict):
        orgs.create_custom_role(backend, root, "acme", "POWER", "view_only", [])
    orgs.create_custom_role(backend, root, "globex", "power", "view_only", [])


def test_org_admin_sets_models_and_weave_access(backend, people):
    root, alice, bob = people
    teams.create_team(backend, root, "mlteam", "work", "acme")
    members.add_member(backend, root, "mlteam", "alice", "member")
    changed = orgs.set_org_member_access(
        backend, root, "acme", "alice", {"models_access": "limited", "weave_access": "none"}
    )
    assert changed == {
        "username": "alice",
        "name": "",
        "email": "alice@example.org",
        "admin": False,
        "models_access": "limited",
        "weave_access": "none",
    }
    listed = members.list_members(backend, root, "mlteam")["items"]
    alice_row = next(m for m in listed if m["username"] == "alice")
    assert (alice_row["models_access"], alice_row["weave_access"]) == ("limited", "none")


def test_member_access_refusals_change_nothing(backend, people):
    root, alice, bob = people
    teams.create_team(backend, root, "mlteam", "work", "acme")
    members.add_member(backend, root, "mlteam", "alice", "admin")
    before = snapshot(backend)
    # A team admin is not an org admin.
    with pytest.raises(Forbidden):
        orgs.set_org_member_access(backend, alice, "acme", "root", {"models_access": "none"})
    with pytest.raises(NotFound):
        orgs.set_org_member_access(backend, bob, "acme", "alice", {"models_access": "none"})
    with pytest.raises(NotFound):
        orgs.set_org_member_access(backend, root, "acme", "bob", {"models_access": "none"})
    for bad, field in [
        ({"models_access": "total"}, "models_access"),
        ({"weave_access": None}, "weave_access"),
        ({"admin": "yes"}, "admin"),
        ({"is_admin": True}, "is_admin"),
        ("models_access=none", "changes"),
    ]:
        with pytest.raises(Invalid) as err:
            orgs.set_org_member_access(backend, root, "acme", "alice", bad)
        assert err.value.field == field
    assert snapshot(backend) == before


def test_an_org_keeps_an_admin(backend, people):
    root, alice, _bob = people
    teams.create_team(backend, root, "mlteam", "work", "acme")
    members.add_member(backend, root, "mlteam", "alice", "member")
    before = snapshot(backend)
    with pytest.raises(Conflict, match="last administrator"):
        orgs.set_org_member_access(backend, root, "acme", "root", {"admin": False})
    assert snapshot(backend) == before
    orgs.set_org_member_access(backend, root, "acme", "alice", {"admin": True})
    assert (
        orgs.set_org_member_access(backend, alice, "acme", "root", {"admin": False})["admin"]
        is False
    )
