"""Creating, listing and reading teams (F-TM-1, F-TM-4's single-admin warning)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound
from labdeck.backend.models import Base, OrgMember, Team
from labdeck.backend.services import members, orgs, service_accounts, team_settings, teams


def snapshot(backend):
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def root(make_user):
    return make_user("root", admin=True)


def test_admin_account_creates_a_team_and_its_new_org(backend, root):
    team = teams.create_team(backend, root, "  Vision-Lab ", "academic", "Uni_Research")
    assert {k: team[k] for k in ("name", "type", "organization", "my_role")} == {
        "name": "vision-lab",
        "type": "academic",
        "organization": "uni_research",
        "my_role": "admin",
    }
    with backend.db.reader() as s:
        stored = s.scalar(select(Team))
        assert stored.name == "vision-lab"
        member = s.scalar(select(OrgMember))
        assert member.is_admin and member.user_id == root.user_id


def test_a_team_joins_an_existing_org_and_its_creator_joins_the_org(backend, root, make_user):
    orgs.create_org(backend, root, "acme")
    carol = make_user("carol", admin=True)
    teams.create_team(backend, carol, "robotics", "work", "ACME")
    assert [(o["name"], o["my_role"]) for o in orgs.list_orgs(backend, carol)] == [
        ("acme", "member")
    ]
    assert teams.get_team(backend, carol, "robotics")["organization"] == "acme"


def test_user_accounts_cannot_create_teams(backend, root, make_user):
    alice = make_user("alice")
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="create or delete teams"):
        teams.create_team(backend, alice, "alices", "work", "acme")
    assert snapshot(backend) == before


@pytest.mark.parametrize(
    ("name", "type_", "org", "field"),
    [
        ("ab", "work", "acme", "name"),
        ("a" * 65, "work", "acme", "name"),
        ("has space", "work", "acme", "name"),
        ("dots.not.allowed", "work", "acme", "name"),
        ("émigré", "work", "acme", "name"),
        (None, "work", "acme", "name"),
        ("team\x00x", "work", "acme", "name"),
        ("good-team", "Work", "acme", "type"),
        ("good-team", "company", "acme", "type"),
        ("good-team", None, "acme", "type"),
        ("good-team", "work", "", "organization"),
        ("good-team", "work", "a/b", "organization"),
        ("good-team", "work", ["acme"], "organization"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(backend, root, name, type_, org, field):
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        teams.create_team(backend, root, name, type_, org)
    assert err.value.field == field
    assert snapshot(backend) == before


def test_team_names_are_unique_ignoring_case_and_shared_with_user_names(backend, root, make_user):
    teams.create_team(backend, root, "vision", "work", "acme")
    make_user("dana")
    before = snapshot(backend)
    for taken in ("VISION", "vision", "dana", "root"):
        with pytest.raises(Conflict) as err:
            teams.create_team(backend, root, taken, "work", "other-org")
        assert err.value.field == "name"
    assert snapshot(backend) == before


def test_there_is_no_way_to_rename_a_team(backend, root):
    teams.create_team(backend, root, "vision", "work", "acme")
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        team_settings.patch_settings(backend, root, "vision", {"name": "vision2"})
    assert err.value.field == "name"
    with pytest.raises(Invalid):
        team_settings.patch_team_profile(backend, root, "vision", {"name": "vision2"})
    assert snapshot(backend) == before
    public = [n for n in dir(teams) if not n.startswith("_") and "rename" in n.lower()]
    assert public == []


def test_list_my_teams_shows_my_role_including_custom_roles(backend, root, make_user):
    alice = make_user("alice")
    teams.create_team(backend, root, "vision", "work", "acme")
    teams.create_team(backend, root, "audio", "academic", "acme")
    orgs.create_custom_role(backend, root, "acme", "auditor", "view_only", ["view team settings"])
    members.add_member(backend, root, "vision", "alice", "auditor")
    members.add_member(backend, root, "audio", "alice", "member")
    mine = teams.list_my_teams(backend, alice)
    assert [(t["name"], t["type"], t["organization"], t["my_role"]) for t in mine] == [
        ("audio", "academic", "acme", "member"),
        ("vision", "work", "acme", "auditor"),
    ]
    assert [t["name"] for t in teams.list_my_teams(backend, root)] == ["audio", "vision"]


def test_get_team_counts_admins_and_warns_while_there_is_one(backend, root, make_user):
    make_user("alice")
    teams.create_team(backend, root, "vision", "work", "acme")
    service_accounts.create_service_account(backend, root, "vision", "ci-bot")
    team = teams.get_team(backend, root, "Vision")
    assert team["member_count"] == 1 and team["admin_count"] == 1
    assert team["only_one_admin"] is True
    members.add_member(backend, root, "vision", "alice", "admin")
    team = teams.get_team(backend, root, "vision")
    assert (team["member_count"], team["admin_count"], team["only_one_admin"]) == (2, 2, False)


def test_teams_are_invisible_to_outsiders_but_not_to_admin_accounts(backend, root, make_user):
    alice = make_user("alice")
    carol = make_user("carol", admin=True)
    teams.create_team(backend, root, "vision", "work", "acme")
    with pytest.raises(NotFound) as hidden:
        teams.get_team(backend, alice, "vision")
    with pytest.raises(NotFound) as missing:
        teams.get_team(backend, alice, "no-such-team")
    assert str(hidden.value).replace("vision", "X") == str(missing.value).replace(
        "no-such-team", "X"
    )
    seen = teams.get_team(backend, carol, "vision")
    assert seen["my_role"] is None and seen["name"] == "vision"
    assert teams.list_my_teams(backend, alice) == []
