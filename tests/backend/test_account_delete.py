"""Deleting one's own account (F-US-6)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict, Invalid, Unauthenticated
from labdeck.backend.models import (
    Alert,
    AlertPreference,
    ApiKey,
    ArtifactVersion,
    Base,
    BetaFeatureChoice,
    Email,
    EmailToken,
    GithubOAuthState,
    Membership,
    MetricPoint,
    MetricSeries,
    Organization,
    OrgMember,
    Project,
    Report,
    ReportFollower,
    Run,
    Team,
    User,
)
from labdeck.backend.services import (
    account,
    alert_settings,
    alerts,
    apikeys,
    beta_features,
    emails,
    github,
    identity,
    profile,
)


def snapshot(backend: Backend) -> dict[str, list[str]]:
    """Every row of every table."""
    with backend.db.reader() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def make_team(backend: Backend, name: str, members: dict[Actor, str]) -> int:
    with backend.db.transaction() as session:
        org = session.scalar(select(Organization).where(Organization.name == "acme"))
        if org is None:
            org = Organization(name="acme")
            session.add(org)
            session.flush()
        team = Team(name=name, type="work", org_id=org.id)
        session.add(team)
        session.flush()
        for actor, role in members.items():
            session.add(Membership(team_id=team.id, user_id=actor.user_id, role=role))
            if session.get(OrgMember, (org.id, actor.user_id)) is None:
                session.add(OrgMember(org_id=org.id, user_id=actor.user_id))
        return team.id


def make_project_with_data(
    backend: Backend, creator: Actor, *, team_id: int | None, name: str
) -> tuple[int, str]:
    """A project holding a run with metric points, a report followed by its
    creator, and an artifact version."""
    with backend.db.transaction() as session:
        if team_id is None:
            user = session.get(User, creator.user_id)
            assert user is not None
            entity = user.username
        else:
            team = session.get(Team, team_id)
            assert team is not None
            entity = team.name
        project = Project(
            entity=entity,
            name=name,
            team_id=team_id,
            owner_id=None if team_id is not None else creator.user_id,
            created_by=creator.user_id,
        )
        session.add(project)
        session.flush()
        run_id = f"r{project.id:07d}"
        session.add(
            Run(
                id=run_id,
                project_id=project.id,
                name="train",
                created_by=creator.user_id,
                logged_by=creator.user_id,
            )
        )
        session.flush()
        series = MetricSeries(run_id=run_id, key="cpu", count=2)
        report = Report(project_id=project.id, title="notes", created_by=creator.user_id)
        session.add_all([series, report])
        session.flush()
        session.add_all(
            [
                MetricPoint(series_id=series.id, t=1.0, v=10.0),
                MetricPoint(series_id=series.id, t=2.0, v=20.0),
                ReportFollower(report_id=report.id, user_id=creator.user_id),
                ArtifactVersion(
                    project_id=project.id,
                    name="data",
                    type="dataset",
                    version=1,
                    storage_url="file:///tmp/none",
                    created_by=creator.user_id,
                ),
            ]
        )
        return project.id, run_id


def count(backend: Backend, model: Any, *where: Any) -> int:
    with backend.db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_the_user_must_type_their_user_name(backend, make_user):
    alice = make_user("alice")
    before = snapshot(backend)
    for wrong in ("", "ALICE", "alic", "bob", "alice!", None, 5):
        with pytest.raises(Invalid) as err:
            account.delete_account(backend, alice, wrong)
        assert err.value.field == "confirm"
    assert snapshot(backend) == before


def test_the_last_admin_of_a_team_is_refused_naming_the_teams(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    make_team(backend, "vision", {alice: "admin", bob: "member"})
    make_team(backend, "audio", {alice: "admin", bob: "admin"})
    make_team(backend, "nlp", {alice: "admin"})
    before = snapshot(backend)
    with pytest.raises(Conflict) as err:
        account.delete_account(backend, alice, "alice")
    assert "nlp, vision" in err.value.message and "audio" not in err.value.message
    assert snapshot(backend) == before


def test_a_service_account_admin_does_not_keep_a_team_run(backend, make_user):
    alice = make_user("alice")
    team_id = make_team(backend, "vision", {alice: "admin"})
    with backend.db.transaction() as session:
        robot = User(username="vision-bot", account_type="service", service_team_id=team_id)
        session.add(robot)
        session.flush()
        session.add(Membership(team_id=team_id, user_id=robot.id, role="admin"))
    with pytest.raises(Conflict):
        account.delete_account(backend, alice, "alice")


def test_another_admin_lets_the_account_go(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    team_id = make_team(backend, "vision", {alice: "admin", bob: "admin"})
    account.delete_account(backend, alice, " alice ")
    assert count(backend, Membership, Membership.team_id == team_id) == 1
    # Now bob is the last one.
    with pytest.raises(Conflict):
        account.delete_account(backend, bob, "bob")


def test_deletion_clears_personal_data_and_keeps_team_work(backend, make_user, settings):
    alice = make_user("alice")
    bob = make_user("bob")
    team_id = make_team(backend, "vision", {alice: "member", bob: "admin"})
    personal_project, personal_run = make_project_with_data(
        backend, alice, team_id=None, name="mine"
    )
    _, team_run = make_project_with_data(backend, alice, team_id=team_id, name="shared")
    _, bobs_run = make_project_with_data(backend, bob, team_id=team_id, name="bobs")

    profile.update_profile(
        backend, alice, {"name": "Alice", "bio": "hi", "website": "https://a.org", "location": "x"}
    )
    profile.set_avatar(backend, alice, png())
    emails.add_email(backend, alice, "alice2@example.org")
    key = apikeys.create_key(backend, alice, "laptop")
    beta_features.set_beta_features(backend, alice, {"proc_memory_pss": True})
    alert_settings.put_alert_settings(
        backend,
        alice,
        {"events": {"custom": {"slack": True}}, "slack_webhook_url": "https://hooks.slack.com/x"},
    )
    alerts.send_alert(backend, alice, "hello")
    settings.github_client_id = "client"
    github.start_connect(backend, alice)
    with backend.db.transaction() as session:
        user = session.get(User, alice.user_id)
        assert user is not None
        user.github_login, user.github_token = "alice-gh", "gho_secret"

    # bob's world, which must not change at all.
    beta_features.set_beta_features(backend, bob, {"chart_zoom_refetch": True})
    bob_key = apikeys.create_key(backend, bob, "ci")

    assert account.delete_account(backend, alice, "alice") is None

    with backend.db.reader() as session:
        tomb = session.get(User, alice.user_id)
        assert tomb is not None
        assert tomb.deleted is True
        assert tomb.username == f"deleted-user-{alice.user_id}"
        assert (tomb.name, tomb.institution, tomb.bio, tomb.location, tomb.website) == ("",) * 5
        assert tomb.avatar_png is None and tomb.slack_webhook_url == ""
        assert tomb.github_login is None and tomb.github_token is None
        assert tomb.account_type == "user"
    for model in (
        Email,
        ApiKey,
        Membership,
        OrgMember,
        BetaFeatureChoice,
        AlertPreference,
        GithubOAuthState,
        Alert,
        ReportFollower,
    ):
        assert count(backend, model, model.user_id == alice.user_id) == 0, model.__tablename__
    assert count(backend, EmailToken) == 0
    # The personal project went with everything in it ...
    assert count(backend, Project, Project.id == personal_project) == 0
    assert count(backend, Run, Run.id == personal_run) == 0
    assert count(backend, MetricSeries, MetricSeries.run_id == personal_run) == 0
    assert count(backend, ArtifactVersion) == 2
    # ... while the team's runs stay, hers attributed to the tombstone.
    with backend.db.reader() as session:
        kept = session.get(Run, team_run)
        assert kept is not None and kept.created_by == alice.user_id
        assert session.get(Run, bobs_run) is not None
    assert count(backend, MetricPoint) == 4
    assert count(backend, Report) == 2

    # The account can no longer act or authenticate.
    with pytest.raises(Unauthenticated):
        profile.get_profile(backend, alice)
    with pytest.raises(Unauthenticated):
        identity.authenticate_key(backend, key["secret"])
    assert identity.authenticate_key(backend, bob_key["secret"]) == bob
    assert beta_features.enabled_beta_features(backend, bob) == frozenset({"chart_zoom_refetch"})
    # Its name and addresses are free again; a new "alice" is a new account.
    again = identity.ensure_user(backend, "alice")
    assert again != alice
    assert emails.add_email(backend, again, "alice@example.org")["primary"] is True


def test_other_accounts_rows_are_untouched(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    make_team(backend, "vision", {bob: "admin"})
    make_project_with_data(backend, bob, team_id=None, name="bobs-own")
    emails.add_email(backend, bob, "bob2@example.org")
    apikeys.create_key(backend, bob)
    before = snapshot(backend)
    account.delete_account(backend, alice, "alice")
    after = snapshot(backend)
    changed = {t for t in before if before[t] != after[t]}
    assert changed == {"users", "emails"}
    assert [r for r in after["emails"] if "alice" in r] == []
    assert [r for r in after["users"] if "'bob'" in r] == [
        r for r in before["users"] if "'bob'" in r
    ]


def test_a_live_account_holding_the_tombstone_name_does_not_block(backend, make_user):
    alice = make_user("alice")
    # Sign-up refuses the reserved prefix now; an account that took the name
    # before that rule (a row as old data would hold it) must not block.
    with backend.db.transaction() as session:
        row = User(username=f"deleted-user-{alice.user_id}")
        session.add(row)
        session.flush()
        squatter = Actor(row.id)
    account.delete_account(backend, alice, "alice")
    with backend.db.reader() as session:
        tomb = session.get(User, alice.user_id)
        assert tomb is not None
        assert tomb.username.startswith(f"deleted-user-{alice.user_id}-")
    assert profile.get_profile(backend, squatter)["username"] == f"deleted-user-{alice.user_id}"


def test_a_service_account_cannot_delete_itself(backend, make_user):
    alice = make_user("alice")
    team_id = make_team(backend, "vision", {alice: "admin"})
    with backend.db.transaction() as session:
        robot = User(username="vision-bot", account_type="service", service_team_id=team_id)
        session.add(robot)
        session.flush()
        robot_actor = Actor(robot.id)
    with pytest.raises(Conflict):
        account.delete_account(backend, robot_actor, "vision-bot")


def test_a_deleted_account_cannot_be_deleted_twice(backend, make_user):
    alice = make_user("alice")
    account.delete_account(backend, alice, "alice")
    with pytest.raises(Unauthenticated):
        account.delete_account(backend, alice, f"deleted-user-{alice.user_id}")
