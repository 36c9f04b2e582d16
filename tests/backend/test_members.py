"""Team members: listing, roles, removal, registry admins (F-TM-2, F-TM-4, F-TM-7)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import Base, OrgMember, Project, Run, Team
from labdeck.backend.services import invitations, members, orgs, service_accounts, teams


def snapshot(backend):
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def team(backend, make_user):
    """root admins `vision` (org acme); alice is a member, bob view-only, eve an outsider."""
    root = make_user("root", admin=True)
    users = {"root": root}
    for name in ("alice", "bob", "eve"):
        users[name] = make_user(name)
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    members.add_member(backend, root, "vision", "bob", "view_only")
    return users


def roles(backend, actor, team="vision"):
    return {m["username"]: m["role"] for m in members.list_members(backend, actor, team)["items"]}


def custom(backend, users, name, base, perms, username):
    orgs.create_custom_role(backend, users["root"], "acme", name, base, perms)
    members.change_role(backend, users["root"], "vision", username, name)


def test_members_list_has_the_contract_fields(backend, team):
    invitations.invite(backend, team["root"], "vision", "new@example.org", "member")
    listed = members.list_members(backend, team["bob"], "vision")
    assert listed["next_cursor"] is None
    assert listed["items"][0] == {
        "username": "alice",
        "name": "",
        "email": "alice@example.org",
        "role": "member",
        "models_access": "full",
        "weave_access": "full",
        "registry_admin": False,
    }
    assert [m["username"] for m in listed["items"]] == ["alice", "bob", "root"]
    assert [i["email"] for i in listed["invitations"]] == ["new@example.org"]


def test_members_pages_follow_the_cursor_and_invitations_come_once(backend, team, make_user):
    for i in range(5):
        make_user(f"user{i}")
        members.add_member(backend, team["root"], "vision", f"user{i}", "member")
    invitations.invite(backend, team["root"], "vision", "new@example.org", "member")
    seen, cursor, pages = [], None, 0
    while True:
        page = members.list_members(backend, team["alice"], "vision", limit=3, cursor=cursor)
        assert len(page["items"]) <= 3
        assert len(page["invitations"]) == (1 if pages == 0 else 0)
        seen += [m["username"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 8


@pytest.mark.parametrize(
    ("limit", "cursor", "field"),
    [(0, None, "limit"), (10_000, None, "limit"), ("ten", None, "limit"), (None, "%%%", "cursor")],
)
def test_bad_paging_is_invalid(backend, team, limit, cursor, field):
    with pytest.raises(Invalid) as err:
        members.list_members(backend, team["alice"], "vision", limit=limit, cursor=cursor)
    assert err.value.field == field


def test_a_forged_cursor_of_the_wrong_shape_is_invalid(backend, team):
    from labdeck.backend.paging import encode_cursor

    with pytest.raises(Invalid) as err:
        members.list_members(backend, team["alice"], "vision", cursor=encode_cursor([1, 2]))
    assert err.value.field == "cursor"


def test_members_list_costs_the_same_statements_for_3_or_30_members(backend, team, make_user):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def cost():
        statements.clear()
        event.listen(backend.db.engine, "before_cursor_execute", count)
        try:
            members.list_members(backend, team["root"], "vision", limit=100)
        finally:
            event.remove(backend.db.engine, "before_cursor_execute", count)
        return len(statements)

    small = cost()
    for i in range(27):
        make_user(f"user{i:02d}")
        members.add_member(backend, team["root"], "vision", f"user{i:02d}", "member")
        invitations.invite(backend, team["root"], "vision", f"guest{i}@example.org", "member")
    assert len(members.list_members(backend, team["root"], "vision", limit=100)["items"]) == 30
    assert cost() == small


def test_outsiders_cannot_list_members(backend, team):
    with pytest.raises(NotFound):
        members.list_members(backend, team["eve"], "vision")


def test_admin_changes_roles(backend, team):
    changed = members.change_role(backend, team["root"], "vision", "alice", "view_only")
    assert changed["role"] == "view_only" and changed["username"] == "alice"
    members.change_role(backend, team["root"], "vision", "bob", "admin")
    assert roles(backend, team["root"]) == {"alice": "view_only", "bob": "admin", "root": "admin"}


def test_members_and_view_only_cannot_change_roles(backend, team):
    before = snapshot(backend)
    for who in ("alice", "bob"):
        with pytest.raises(Forbidden, match="change member roles"):
            members.change_role(backend, team[who], "vision", "alice", "admin")
    with pytest.raises(NotFound):
        members.change_role(backend, team["eve"], "vision", "alice", "admin")
    assert snapshot(backend) == before


def test_custom_roles_are_assigned_and_shown_by_name(backend, team):
    orgs.create_custom_role(backend, team["root"], "acme", "auditor", "view_only", [])
    assert members.change_role(backend, team["root"], "vision", "alice", "auditor")["role"] == (
        "auditor"
    )
    assert teams.list_my_teams(backend, team["alice"])[0]["my_role"] == "auditor"
    # Back to a standard role drops the custom role.
    assert members.change_role(backend, team["root"], "vision", "alice", "member")["role"] == (
        "member"
    )


def test_a_role_manager_without_admin_rights_cannot_touch_admins(backend, team):
    custom(backend, team, "manager", "member", ["change member roles"], "alice")
    orgs.create_custom_role(backend, team["root"], "acme", "auditor", "view_only", [])
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="add or remove team admins"):
        members.change_role(backend, team["alice"], "vision", "bob", "admin")
    with pytest.raises(Forbidden, match="add or remove team admins"):
        members.change_role(backend, team["alice"], "vision", "root", "member")
    with pytest.raises(Forbidden, match="assign custom roles"):
        members.change_role(backend, team["alice"], "vision", "bob", "auditor")
    assert snapshot(backend) == before
    assert members.change_role(backend, team["alice"], "vision", "bob", "member")["role"] == (
        "member"
    )


@pytest.mark.parametrize("role", ["owner", "ADMIN", "", None, 3, "x" * 65, "auditor"])
def test_unknown_roles_are_invalid(backend, team, make_user, role):
    # "auditor" exists, but in another organization.
    other = make_user("other", admin=True)
    orgs.create_org(backend, other, "globex")
    orgs.create_custom_role(backend, other, "globex", "auditor", "member", [])
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        members.change_role(backend, team["root"], "vision", "alice", role)
    assert err.value.field == "role"
    assert snapshot(backend) == before


def test_the_last_admin_cannot_be_demoted(backend, team):
    before = snapshot(backend)
    with pytest.raises(Conflict, match="last admin"):
        members.change_role(backend, team["root"], "vision", "root", "member")
    assert snapshot(backend) == before
    members.change_role(backend, team["root"], "vision", "alice", "admin")
    members.change_role(backend, team["root"], "vision", "root", "member")
    with pytest.raises(Conflict, match="last admin"):
        members.change_role(backend, team["alice"], "vision", "alice", "view_only")


def test_changing_the_role_of_a_non_member(backend, team):
    with pytest.raises(NotFound):
        members.change_role(backend, team["root"], "vision", "eve", "member")
    with pytest.raises(NotFound):
        members.change_role(backend, team["root"], "vision", "nobody", "member")


def _run_by(backend, user_id):
    with backend.db.transaction() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == "vision"))
        project = Project(entity="vision", name="p1", team_id=team_id, created_by=user_id)
        s.add(project)
        s.flush()
        s.add(
            Run(
                id="run-alice",
                project_id=project.id,
                name="r",
                created_by=user_id,
                logged_by=user_id,
            )
        )


def test_removing_a_member_keeps_their_runs(backend, team):
    _run_by(backend, team["alice"].user_id)
    members.remove_member(backend, team["root"], "vision", "alice")
    assert "alice" not in roles(backend, team["root"])
    with backend.db.reader() as s:
        run = s.get(Run, "run-alice")
        assert run is not None and run.created_by == team["alice"].user_id
    with pytest.raises(NotFound):
        members.list_members(backend, team["alice"], "vision")


def test_removal_refusals(backend, team):
    custom(backend, team, "remover", "member", ["remove team members"], "alice")
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="remove team members"):
        members.remove_member(backend, team["bob"], "vision", "alice")
    with pytest.raises(Forbidden, match="add or remove team admins"):
        members.remove_member(backend, team["alice"], "vision", "root")
    with pytest.raises(NotFound):
        members.remove_member(backend, team["eve"], "vision", "bob")
    with pytest.raises(NotFound):
        members.remove_member(backend, team["root"], "vision", "eve")
    with pytest.raises(Conflict, match="last admin"):
        members.remove_member(backend, team["root"], "vision", "root")
    assert snapshot(backend) == before
    members.remove_member(backend, team["alice"], "vision", "bob")
    assert set(roles(backend, team["root"])) == {"alice", "root"}


def test_anyone_may_leave_but_the_last_admin(backend, team):
    members.remove_member(backend, team["bob"], "vision", "bob")
    members.change_role(backend, team["root"], "vision", "alice", "admin")
    members.remove_member(backend, team["root"], "vision", "root")
    assert roles(backend, team["alice"]) == {"alice": "admin"}


def test_org_membership_follows_the_last_team(backend, team):
    teams.create_team(backend, team["root"], "audio", "work", "acme")
    members.add_member(backend, team["root"], "audio", "alice", "member")

    def in_org(user):
        with backend.db.reader() as s:
            return s.scalar(select(OrgMember).where(OrgMember.user_id == user.user_id)) is not None

    members.remove_member(backend, team["root"], "vision", "alice")
    assert in_org(team["alice"])
    members.remove_member(backend, team["alice"], "audio", "alice")
    assert not in_org(team["alice"])


def test_registry_admins(backend, team):
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="add or remove registry admins"):
        members.set_registry_admin(backend, team["alice"], "vision", "alice", True)
    with pytest.raises(Invalid):
        members.set_registry_admin(backend, team["root"], "vision", "alice", "yes")
    with pytest.raises(NotFound):
        members.set_registry_admin(backend, team["root"], "vision", "eve", True)
    assert snapshot(backend) == before
    assert members.set_registry_admin(backend, team["root"], "vision", "alice", True)[
        "registry_admin"
    ]
    # A registry admin may name others (the table's registry_admin column).
    members.set_registry_admin(backend, team["alice"], "vision", "bob", True)
    members.set_registry_admin(backend, team["alice"], "vision", "alice", False)
    flags = {
        m["username"]: m["registry_admin"]
        for m in members.list_members(backend, team["root"], "vision")["items"]
    }
    assert flags == {"alice": False, "bob": True, "root": False}


def test_add_member_rules(backend, team, make_user):
    make_user("frank")
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="add team members"):
        members.add_member(backend, team["alice"], "vision", "frank", "member")
    with pytest.raises(Conflict):
        members.add_member(backend, team["root"], "vision", "alice", "member")
    with pytest.raises(NotFound):
        members.add_member(backend, team["root"], "vision", "ghost", "member")
    with pytest.raises(Invalid):
        members.add_member(backend, team["root"], "vision", "frank", "boss")
    with pytest.raises(Invalid):
        members.add_member(backend, team["root"], "vision", "Not A Name!", "member")
    assert snapshot(backend) == before
    assert members.add_member(backend, team["root"], "vision", "FRANK", "admin")["role"] == "admin"


def test_service_accounts_are_not_people_here(backend, team):
    created = service_accounts.create_service_account(backend, team["root"], "vision", "ci-bot")
    teams.create_team(backend, team["root"], "audio", "work", "acme")
    assert created["username"] not in roles(backend, team["root"])
    before = snapshot(backend)
    for call in (
        lambda: members.change_role(backend, team["root"], "vision", created["username"], "admin"),
        lambda: members.remove_member(backend, team["root"], "vision", created["username"]),
        lambda: members.add_member(backend, team["root"], "audio", created["username"], "member"),
    ):
        with pytest.raises(NotFound):
            call()
    assert snapshot(backend) == before
