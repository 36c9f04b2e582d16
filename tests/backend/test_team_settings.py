"""Team settings, avatar and profile (F-TS-1..4, F-TS-6, F-TM-9)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from labdeck.backend.alerting import team_preferences
from labdeck.backend.errors import Forbidden, Invalid, NotFound, TooLarge
from labdeck.backend.models import Base, Project, Report, Team
from labdeck.backend.services import members, team_settings, teams


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


def add_project(backend, name, visibility, created_by, team="vision"):
    with backend.db.transaction() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == team))
        project = Project(
            entity=team, name=name, team_id=team_id, visibility=visibility, created_by=created_by
        )
        s.add(project)
        s.flush()
        return project.id


def add_report(backend, project_id, title, created_by):
    with backend.db.transaction() as s:
        report = Report(project_id=project_id, title=title, created_by=created_by)
        s.add(report)
        s.flush()
        return report.id


def png(size=(40, 20), color=(200, 30, 30)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def test_default_settings(backend, users):
    got = team_settings.get_settings(backend, users["root"], "vision")
    assert got["force_private"] is False and got["code_saving_default"] is False
    assert got["storage_url"] == "" and got["uses_default_storage"] is True
    assert got["alerts"]["email"] == "" and got["alerts"]["slack_webhook_url"] == ""
    events = got["alerts"]["events"]
    assert events["run_finished"] == {"email": False, "slack": False}
    assert events["run_crashed"] == {"email": False, "slack": False}


def test_only_team_admins_see_or_change_settings(backend, users):
    before = snapshot(backend)
    with pytest.raises(Forbidden, match="view team settings"):
        team_settings.get_settings(backend, users["alice"], "vision")
    with pytest.raises(Forbidden, match="manage team settings"):
        team_settings.patch_settings(backend, users["alice"], "vision", {"force_private": True})
    with pytest.raises(NotFound):
        team_settings.get_settings(backend, users["eve"], "vision")
    with pytest.raises(NotFound):
        team_settings.patch_settings(backend, users["eve"], "vision", {"force_private": True})
    assert snapshot(backend) == before


def test_force_private_makes_existing_projects_private(backend, users):
    add_project(backend, "p-team", "team", users["alice"].user_id)
    add_project(backend, "p-open", "open", users["alice"].user_id)
    teams.create_team(backend, users["root"], "audio", "work", "acme")
    add_project(backend, "other", "open", users["root"].user_id, team="audio")
    got = team_settings.patch_settings(
        backend, users["root"], "vision", {"force_private": True, "code_saving_default": True}
    )
    assert got["force_private"] is True and got["code_saving_default"] is True
    with backend.db.reader() as s:
        seen = dict(s.execute(select(Project.name, Project.visibility)).all())
    assert seen == {"p-team": "private", "p-open": "private", "other": "open"}
    # Turning it off again does not guess what the projects were before.
    team_settings.patch_settings(backend, users["root"], "vision", {"force_private": False})
    with backend.db.reader() as s:
        assert s.scalar(select(Project.visibility).where(Project.name == "p-team")) == "private"


def test_alert_channels(backend, users):
    got = team_settings.patch_settings(
        backend,
        users["root"],
        "vision",
        {
            "alerts": {
                "email": "ML-Alerts@Example.org",
                "slack_webhook_url": "https://hooks.slack.com/services/T/B/X",
                "events": {"run_crashed": {"email": True, "slack": True}},
            }
        },
    )
    assert got["alerts"]["email"] == "ml-alerts@example.org"
    assert got["alerts"]["events"]["run_crashed"] == {"email": True, "slack": True}
    assert got["alerts"]["events"]["run_finished"] == {"email": False, "slack": False}
    team_settings.patch_settings(
        backend,
        users["root"],
        "vision",
        {"alerts": {"events": {"run_crashed": {"slack": False}, "run_finished": {"email": True}}}},
    )
    with backend.db.reader() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == "vision"))
        prefs = team_preferences(s, team_id)
    assert prefs["run_crashed"] == {"email": True, "slack": False}
    assert prefs["run_finished"] == {"email": True, "slack": False}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"alerts": {"events": {"run_crashed": {"slack": True}}}}, "alerts.slack_webhook_url"),
        ({"alerts": {"events": {"run_crashed": {"email": True}}}}, "alerts.email"),
        ({"alerts": {"email": "nope"}}, "alerts.email"),
        (
            {"alerts": {"slack_webhook_url": "http://hooks.example.org/x"}},
            "alerts.slack_webhook_url",
        ),
        ({"alerts": {"slack_webhook_url": "javascript:alert(1)"}}, "alerts.slack_webhook_url"),
        ({"alerts": {"events": {"run_exploded": {"email": True}}}}, "alerts.events.run_exploded"),
        ({"alerts": {"events": {"run_crashed": {"pager": True}}}}, "alerts.events.run_crashed"),
        (
            {"alerts": {"events": {"run_crashed": {"email": "on"}}}},
            "alerts.events.run_crashed.email",
        ),
        ({"alerts": {"events": ["run_crashed"]}}, "alerts.events"),
        ({"alerts": {"sms": "123"}}, "sms"),
        ({"force_private": "yes"}, "force_private"),
        ({"code_saving_default": 1}, "code_saving_default"),
        ({"name": "renamed"}, "name"),
        ({"storage_url": 42}, "storage_url"),
        (["force_private"], "changes"),
    ],
)
def test_bad_settings_change_nothing(backend, users, changes, field):
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        team_settings.patch_settings(backend, users["root"], "vision", changes)
    assert err.value.field == field
    assert snapshot(backend) == before


def test_a_refused_change_saves_none_of_the_others(backend, users):
    before = snapshot(backend)
    with pytest.raises(Invalid):
        team_settings.patch_settings(
            backend,
            users["root"],
            "vision",
            {"force_private": True, "storage_url": "nope-protocol://bucket/x"},
        )
    assert snapshot(backend) == before


def test_storage_connector_is_probed_before_it_is_saved(backend, users, tmp_path):
    target = tmp_path / "team-store"
    got = team_settings.patch_settings(
        backend, users["root"], "vision", {"storage_url": target.as_uri() + "/"}
    )
    assert got["storage_url"] == target.as_uri() and got["uses_default_storage"] is False
    assert target.is_dir() and list(target.iterdir()) == []  # the probe was removed
    got = team_settings.patch_settings(backend, users["root"], "vision", {"storage_url": ""})
    assert got["storage_url"] == "" and got["uses_default_storage"] is True


def test_unusable_storage_is_invalid(backend, users, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    before = snapshot(backend)
    for url in (
        "nope-protocol://bucket/path",
        "just/a/path",
        (blocker / "below").as_uri(),
        "file://" + "x" * 1100,
    ):
        with pytest.raises(Invalid) as err:
            team_settings.patch_settings(backend, users["root"], "vision", {"storage_url": url})
        assert err.value.field == "storage_url"
    assert snapshot(backend) == before


def test_a_member_cannot_make_the_server_write_anywhere(backend, users, tmp_path):
    target = tmp_path / "not-yours"
    with pytest.raises(Forbidden):
        team_settings.patch_settings(
            backend, users["alice"], "vision", {"storage_url": target.as_uri()}
        )
    assert not target.exists()


def test_avatar(backend, users):
    team_settings.set_team_avatar(backend, users["root"], "vision", png())
    stored = team_settings.get_team_avatar(backend, users["alice"], "vision")
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.size == (256, 256)
    with pytest.raises(NotFound):
        team_settings.get_team_avatar(backend, users["eve"], "vision")
    team_settings.patch_team_profile(backend, users["root"], "vision", {"visibility": "public"})
    assert team_settings.get_team_avatar(backend, users["eve"], "vision") == stored


def test_avatar_refusals(backend, users):
    before = snapshot(backend)
    with pytest.raises(NotFound):
        team_settings.get_team_avatar(backend, users["root"], "vision")
    with pytest.raises(Invalid):
        team_settings.set_team_avatar(backend, users["root"], "vision", b"<svg onload=alert(1)>")
    with pytest.raises(Invalid):
        team_settings.set_team_avatar(backend, users["root"], "vision", png()[:60])
    with pytest.raises(TooLarge):
        team_settings.set_team_avatar(backend, users["root"], "vision", b"\0" * (6 * 1024 * 1024))
    with pytest.raises(Forbidden, match="manage team settings"):
        team_settings.set_team_avatar(backend, users["alice"], "vision", png())
    with pytest.raises(NotFound):
        team_settings.set_team_avatar(backend, users["eve"], "vision", png())
    assert snapshot(backend) == before


def test_profile_defaults_and_edit(backend, users):
    assert team_settings.get_team_profile(backend, users["alice"], "vision") == {
        "team": "vision",
        "intro": "",
        "visibility": "members",
        "links": [],
        "showcased_projects": [],
        "showcased_reports": [],
    }
    p1 = add_project(backend, "Detector", "team", users["alice"].user_id)
    report = add_report(backend, p1, "Results", users["alice"].user_id)
    got = team_settings.patch_team_profile(
        backend,
        users["root"],
        "vision",
        {
            "intro": "# Vision\n\n    indented <b>stays text</b>",
            "links": [{"title": "Site", "url": "https://vision.example.org"}],
            "showcased_projects": ["detector", "Detector"],
            "showcased_reports": [report],
        },
    )
    assert got["intro"] == "# Vision\n\n    indented <b>stays text</b>"
    assert got["links"] == [{"title": "Site", "url": "https://vision.example.org"}]
    assert got["showcased_projects"] == [
        {"entity": "vision", "name": "Detector", "visibility": "team"}
    ]
    assert got["showcased_reports"] == [
        {"id": report, "title": "Results", "entity": "vision", "project": "Detector"}
    ]
    assert team_settings.get_team_profile(backend, users["alice"], "vision") == got


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"intro": "x" * 20_001}, "intro"),
        ({"intro": 5}, "intro"),
        ({"visibility": "everyone"}, "visibility"),
        ({"links": [{"title": "x", "url": "javascript:alert(1)"}]}, "links.url"),
        ({"links": [{"title": "", "url": "https://a.org"}]}, "links.title"),
        ({"links": [{"title": "x", "url": "https://a.org", "icon": "x"}]}, "icon"),
        ({"links": "https://a.org"}, "links"),
        ({"links": [{"title": "x", "url": "https://a.org"}] * 21}, "links"),
        ({"showcased_projects": ["missing"]}, "showcased_projects"),
        ({"showcased_projects": ["elsewhere"]}, "showcased_projects"),
        ({"showcased_projects": [{"name": "x"}]}, "showcased_projects"),
        ({"showcased_projects": "detector"}, "showcased_projects"),
        ({"showcased_reports": [999_999]}, "showcased_reports"),
        ({"showcased_reports": ["1"]}, "showcased_reports"),
        ({"showcased_reports": [True]}, "showcased_reports"),
        ({"showcased_reports": "elsewhere"}, "showcased_reports"),
        ({"profile_public": True}, "profile_public"),
    ],
)
def test_bad_profiles_change_nothing(backend, users, changes, field):
    teams.create_team(backend, users["root"], "audio", "work", "acme")
    elsewhere = add_project(backend, "elsewhere", "open", users["root"].user_id, team="audio")
    foreign_report = add_report(backend, elsewhere, "Not vision's", users["root"].user_id)
    if changes.get("showcased_reports") == "elsewhere":
        changes = {"showcased_reports": [foreign_report]}
    before = snapshot(backend)
    with pytest.raises(Invalid) as err:
        team_settings.patch_team_profile(backend, users["root"], "vision", changes)
    assert err.value.field == field
    assert snapshot(backend) == before


def test_profile_visibility_and_what_each_reader_sees(backend, users, make_user):
    alice, root, eve = users["alice"], users["root"], users["eve"]
    bob = make_user("bob")
    members.add_member(backend, root, "vision", "bob", "member")
    secret = add_project(backend, "secret", "private", alice.user_id)
    add_project(backend, "shared", "team", alice.user_id)
    public = add_project(backend, "public", "open", alice.user_id)
    secret_report = add_report(backend, secret, "Secret report", alice.user_id)
    open_report = add_report(backend, public, "Open report", alice.user_id)
    team_settings.patch_team_profile(
        backend,
        root,
        "vision",
        {
            "showcased_projects": ["secret", "shared", "public"],
            "showcased_reports": [secret_report, open_report],
        },
    )
    with pytest.raises(NotFound):
        team_settings.get_team_profile(backend, eve, "vision")
    with pytest.raises(Forbidden, match="manage team settings"):
        team_settings.patch_team_profile(backend, alice, "vision", {"visibility": "public"})
    team_settings.patch_team_profile(backend, root, "vision", {"visibility": "public"})

    def names(actor):
        got = team_settings.get_team_profile(backend, actor, "vision")
        return [p["name"] for p in got["showcased_projects"]], [
            r["title"] for r in got["showcased_reports"]
        ]

    assert names(root) == (["secret", "shared", "public"], ["Secret report", "Open report"])
    assert names(alice) == (["secret", "shared", "public"], ["Secret report", "Open report"])
    # A plain member does not see another member's private project, even here.
    assert names(bob) == (["shared", "public"], ["Open report"])
    assert names(eve) == (["public"], ["Open report"])
