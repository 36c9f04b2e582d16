"""Team service accounts (F-TM-6): create (key shown once), list, delete."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labdeck.backend.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from labdeck.backend.models import Alert, ApiKey, Base, Membership, Project, Run, Team, User
from labdeck.backend.services import (
    alerts,
    identity,
    members,
    profile,
    projects,
    runs,
    service_accounts,
    team_settings,
    teams,
)


def snapshot(backend):
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def users(backend, make_user):
    root = make_user("root", admin=True)
    found = {"root": root, "alice": make_user("alice"), "eve": make_user("eve")}
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    return found


def test_create_returns_the_key_once_and_the_key_acts_as_a_team_member(backend, users):
    created = service_accounts.create_service_account(backend, users["root"], "vision", "CI-Bot")
    assert {k: created[k] for k in ("name", "team", "username")} == {
        "name": "ci-bot",
        "team": "vision",
        "username": "vision.ci-bot",
    }
    assert created["secret"].startswith("ldk_") and created["created_at"]
    bot = identity.authenticate_key(backend, created["secret"])
    with backend.db.reader() as s:
        account = s.get(User, bot.user_id)
        assert account.account_type == "service"
        assert account.service_team_id == s.scalar(select(Team.id).where(Team.name == "vision"))
        membership = s.get(Membership, (account.service_team_id, account.id))
        assert membership.role == "member"
        stored = s.scalar(select(ApiKey).where(ApiKey.user_id == account.id))
        assert created["secret"] not in repr(stored.__dict__)
    listed = service_accounts.list_service_accounts(backend, users["root"], "vision")
    assert len(listed) == 1 and "secret" not in listed[0]
    assert listed[0]["key_prefix"] == created["secret"][: len(listed[0]["key_prefix"])]


def test_a_service_account_is_no_team_manager_and_cannot_sign_in(backend, users):
    created = service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")
    bot = identity.authenticate_key(backend, created["secret"])
    with pytest.raises(Forbidden, match="manage service accounts"):
        service_accounts.create_service_account(backend, bot, "vision", "another")
    with pytest.raises(Forbidden, match="manage team settings"):
        team_settings.patch_settings(backend, bot, "vision", {"force_private": True})
    # Someone signing in under the bot's handle gets an account of their own.
    person = identity.ensure_user(backend, "vision.ci-bot")
    assert person != bot
    assert profile.get_profile(backend, person)["username"] == "vision.ci-bot-2"


def test_only_team_admins_manage_service_accounts(backend, users):
    service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="manage service accounts"):
        service_accounts.create_service_account(backend, users["alice"], "vision", "mine")
    with pytest.raises(Forbidden, match="manage service accounts"):
        service_accounts.list_service_accounts(backend, users["alice"], "vision")
    with pytest.raises(Forbidden, match="manage service accounts"):
        service_accounts.delete_service_account(backend, users["alice"], "vision", "ci-bot")
    for call in (
        lambda: service_accounts.create_service_account(backend, users["eve"], "vision", "x-bot"),
        lambda: service_accounts.list_service_accounts(backend, users["eve"], "vision"),
        lambda: service_accounts.delete_service_account(backend, users["eve"], "vision", "ci-bot"),
    ):
        with pytest.raises(NotFound):
            call()
    assert snapshot(backend) == before


@pytest.mark.parametrize("name", ["ab", "a.b", "has space", "", None, 7, "x" * 65, "bot/../x"])
def test_bad_names_change_nothing(backend, users, name):
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        service_accounts.create_service_account(backend, users["root"], "vision", name)
    assert err.value.field == "name"
    assert snapshot(backend) == before


def test_the_user_name_must_fit(backend, users):
    long_team = "t" * 60
    teams.create_team(backend, users["root"], long_team, "work", "acme")
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        service_accounts.create_service_account(backend, users["root"], long_team, "abcd")
    assert err.value.field == "name"
    assert snapshot(backend) == before
    created = service_accounts.create_service_account(backend, users["root"], long_team, "abc")
    assert len(created["username"]) == 64


def test_names_are_unique_and_never_reused(backend, users, make_user):
    service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")
    make_user("vision.taken")
    before = snapshot(backend)
    for name in ("ci-bot", "CI-BOT", "taken"):
        with pytest.raises(Conflict) as err:
            service_accounts.create_service_account(backend, users["root"], "vision", name)
        assert err.value.field == "name"
    assert snapshot(backend) == before
    service_accounts.delete_service_account(backend, users["root"], "vision", "ci-bot")
    with pytest.raises(Conflict):
        service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")


def test_delete_revokes_the_key_and_keeps_the_runs(backend, users):
    created = service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")
    bot = identity.authenticate_key(backend, created["secret"])
    with backend.db.transaction() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == "vision"))
        project = Project(entity="vision", name="p", team_id=team_id, created_by=bot.user_id)
        s.add(project)
        s.flush()
        s.add(
            Run(
                id="bot-run",
                project_id=project.id,
                name="r",
                created_by=bot.user_id,
                logged_by=bot.user_id,
            )
        )
    service_accounts.delete_service_account(backend, users["root"], "vision", "ci-bot")
    with pytest.raises(Unauthenticated):
        identity.authenticate_key(backend, created["secret"])
    assert service_accounts.list_service_accounts(backend, users["root"], "vision") == []
    with backend.db.reader() as s:
        tomb = s.get(User, bot.user_id)
        assert tomb.deleted and tomb.username == "vision.ci-bot"
        assert s.get(Run, "bot-run").logged_by == bot.user_id
        assert s.get(Membership, (team_id, bot.user_id)) is None
    with pytest.raises(NotFound):
        service_accounts.delete_service_account(backend, users["root"], "vision", "ci-bot")


def test_delete_only_finds_the_teams_own_accounts(backend, users):
    teams.create_team(backend, users["root"], "audio", "work", "acme")
    service_accounts.create_service_account(backend, users["root"], "audio", "ci-bot")
    before = snapshot(backend)
    with pytest.raises(NotFound):
        service_accounts.delete_service_account(backend, users["root"], "vision", "ci-bot")
    with pytest.raises(NotFound):
        service_accounts.delete_service_account(backend, users["root"], "vision", "nobody")
    assert snapshot(backend) == before
    assert [
        a["username"]
        for a in service_accounts.list_service_accounts(backend, users["root"], "audio")
    ] == ["audio.ci-bot"]


def test_a_service_account_alerts_on_its_run_in_a_private_project_of_its_team(backend, users):
    """Who sees a project is one rule (`access.subject_on_project`): the
    service account that logs into a private project an admin created also
    raises alerts on that run and sees the project in the team's showcase,
    where a member who did not create it sees neither."""
    created = service_accounts.create_service_account(backend, users["root"], "vision", "ci-bot")
    bot = identity.authenticate_key(backend, created["secret"])
    projects.create_project(backend, users["root"], "vision", "secret", "private")
    run = runs.create_run(backend, bot, "vision", "secret", name="nightly")
    sent = alerts.send_alert(backend, bot, "loss is nan", "epoch 3", "WARN", run_id=run["id"])
    assert sent["title"] == "loss is nan" and not sent["suppressed"]
    with backend.db.reader() as s:
        stored = s.execute(select(Alert.user_id, Alert.run_id, Alert.level)).all()
    assert [tuple(r) for r in stored] == [(bot.user_id, run["id"], "WARN")]
    with pytest.raises(NotFound, match="no run with that id"):
        alerts.send_alert(backend, users["alice"], "not mine", run_id=run["id"])

    team_settings.patch_team_profile(
        backend, users["root"], "vision", {"showcased_projects": ["secret"]}
    )
    shown = team_settings.get_team_profile(backend, bot, "vision")["showcased_projects"]
    assert [p["name"] for p in shown] == ["secret"]
    assert (
        team_settings.get_team_profile(backend, users["alice"], "vision")["showcased_projects"]
        == []
    )
