"""Beta features (F-US-3), alert settings (F-US-4), custom alerts with
suppression, and the run-event dispatch to personal and team channels (F-TS-2)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.alerting import dispatch_run_event
from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Invalid, Malformed, NotFound
from labdeck.backend.models import (
    Alert,
    AlertPreference,
    BetaFeatureChoice,
    Email,
    Membership,
    Notification,
    Organization,
    Project,
    Run,
    Team,
    User,
)
from labdeck.backend.services import alert_settings, alerts, beta_features
from labdeck.backend.services.beta_features import BETA_FEATURES

HOOK = "https://hooks.slack.com/services/T000/B000/XXXX"


def snapshot(backend: Backend, *models: Any) -> dict[str, list[str]]:
    with backend.db.reader() as session:
        return {
            model.__tablename__: sorted(
                repr(tuple(getattr(row, c.key) for c in model.__table__.columns))
                for row in session.scalars(select(model))
            )
            for model in models
        }


def outbox(backend: Backend) -> list[tuple[str, str, str]]:
    with backend.db.reader() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [(n.channel, n.recipient, n.kind) for n in rows]


def alert_rows(backend: Backend) -> list[Alert]:
    with backend.db.reader() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


# --- beta features ---------------------------------------------------------


def test_the_catalogue_holds_the_promised_beta_features():
    for name in ("openmetrics_histograms", "proc_memory_pss", "chart_zoom_refetch"):
        assert BETA_FEATURES[name].name == name
        assert len(BETA_FEATURES[name].description) > 20
    assert "histograms" in BETA_FEATURES["openmetrics_histograms"].description
    assert "pssMB" in BETA_FEATURES["proc_memory_pss"].description


def test_beta_features_start_off_and_toggle_per_user(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    listing = beta_features.list_beta_features(backend, alice)
    assert [f["name"] for f in listing] == list(BETA_FEATURES)
    assert all(f["enabled"] is False for f in listing)
    assert listing[0]["description"] == next(iter(BETA_FEATURES.values())).description
    after = beta_features.set_beta_features(
        backend, alice, {"proc_memory_pss": True, "chart_zoom_refetch": True}
    )
    assert {f["name"] for f in after if f["enabled"]} == {"proc_memory_pss", "chart_zoom_refetch"}
    assert beta_features.is_enabled(backend, alice, "proc_memory_pss") is True
    assert beta_features.is_enabled(backend, bob, "proc_memory_pss") is False
    beta_features.set_beta_features(backend, alice, {"proc_memory_pss": False})
    assert beta_features.enabled_beta_features(backend, alice) == frozenset({"chart_zoom_refetch"})
    assert beta_features.list_beta_features(backend, alice) == beta_features.set_beta_features(
        backend, alice, {}
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"no_such_flag": True}, "no_such_flag"),
        ({"proc_memory_pss": True, "typo_flag": True}, "typo_flag"),
        ({"proc_memory_pss": "yes"}, "proc_memory_pss"),
        ({"proc_memory_pss": 1}, "proc_memory_pss"),
        ({"chart_zoom_refetch": True, "openmetrics_histograms": None}, "openmetrics_histograms"),
    ],
)
def test_bad_beta_feature_changes_save_nothing(backend, make_user, changes, field):
    alice = make_user("alice")
    beta_features.set_beta_features(backend, alice, {"openmetrics_histograms": True})
    before = snapshot(backend, BetaFeatureChoice)
    with pytest.raises(Invalid) as err:
        beta_features.set_beta_features(backend, alice, changes)
    assert err.value.field == field
    assert snapshot(backend, BetaFeatureChoice) == before


def test_body_must_be_an_object_and_unknown_beta_features_are_a_caller_bug(backend, make_user):
    alice = make_user("alice")
    with pytest.raises(Malformed):
        beta_features.set_beta_features(backend, alice, ["proc_memory_pss"])  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        beta_features.is_enabled(backend, alice, "no_such_flag")


def test_a_choice_left_from_removed_code_gates_nothing(backend, make_user):
    alice = make_user("alice")
    with backend.db.transaction() as session:
        session.add(BetaFeatureChoice(user_id=alice.user_id, name="retired_feature", enabled=True))
    assert beta_features.enabled_beta_features(backend, alice) == frozenset()
    assert all(not f["enabled"] for f in beta_features.list_beta_features(backend, alice))


# --- alert settings --------------------------------------------------------

DEFAULTS = {
    event: {"email": True, "slack": False}
    for event in ("run_finished", "run_crashed", "custom", "threshold", "idle")
}


def test_defaults_are_email_on_slack_off(backend, make_user):
    alice = make_user("alice")
    assert alert_settings.get_alert_settings(backend, alice) == {
        "events": DEFAULTS,
        "slack_webhook_url": "",
    }


def test_put_merges_what_it_names(backend, make_user):
    alice = make_user("alice")
    saved = alert_settings.put_alert_settings(
        backend,
        alice,
        {
            "events": {"run_crashed": {"slack": True}, "custom": {"email": False}},
            "slack_webhook_url": HOOK,
        },
    )
    expected = {e: dict(c) for e, c in DEFAULTS.items()}
    expected["run_crashed"]["slack"] = True
    expected["custom"]["email"] = False
    assert saved == {"events": expected, "slack_webhook_url": HOOK}
    assert alert_settings.get_alert_settings(backend, alice) == saved
    again = alert_settings.put_alert_settings(
        backend, alice, {"events": {"custom": {"email": True}}}
    )
    expected["custom"]["email"] = True
    assert again == {"events": expected, "slack_webhook_url": HOOK}
    with backend.db.reader() as session:
        rows = session.scalars(
            select(AlertPreference).where(AlertPreference.user_id == alice.user_id)
        )
        assert sorted((r.event, r.channel) for r in rows) == [
            ("custom", "email"),
            ("run_crashed", "slack"),
        ]
    # Turning Slack off lets the webhook go.
    off = alert_settings.put_alert_settings(
        backend, alice, {"events": {"run_crashed": {"slack": False}}, "slack_webhook_url": ""}
    )
    assert off == {"events": DEFAULTS, "slack_webhook_url": ""}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": {"run_exploded": {"email": True}}}, "events.run_exploded"),
        ({"events": {"custom": {"pager": True}}}, "events.custom.pager"),
        ({"events": {"custom": {"email": "on"}}}, "events.custom.email"),
        ({"events": {"custom": True}}, "events.custom"),
        ({"events": ["custom"]}, "events"),
        ({"slack_webhook_url": "http://hooks.slack.com/services/x"}, "slack_webhook_url"),
        ({"slack_webhook_url": "javascript:alert(1)"}, "slack_webhook_url"),
        ({"slack_webhook_url": "https://"}, "slack_webhook_url"),
        ({"slack_webhook_url": "https://x.org/" + "a" * 600}, "slack_webhook_url"),
        ({"slack_webhook_url": 5}, "slack_webhook_url"),
        ({"mute_everything": True}, "mute_everything"),
        # A valid part next to an invalid one: nothing is saved.
        (
            {"events": {"custom": {"email": False}}, "slack_webhook_url": "ftp://x"},
            "slack_webhook_url",
        ),
        (
            {"events": {"run_finished": {"slack": True}}, "slack_webhook_url": ""},
            "slack_webhook_url",
        ),
        ({"slack_webhook_url": ""}, "slack_webhook_url"),
    ],
)
def test_bad_alert_settings_change_nothing(backend, make_user, body, field):
    alice = make_user("alice")
    alert_settings.put_alert_settings(
        backend, alice, {"events": {"run_crashed": {"slack": True}}, "slack_webhook_url": HOOK}
    )
    before = snapshot(backend, AlertPreference, User)
    with pytest.raises(Invalid) as err:
        alert_settings.put_alert_settings(backend, alice, body)
    assert err.value.field == field
    assert snapshot(backend, AlertPreference, User) == before


def test_slack_needs_a_webhook_first(backend, make_user):
    alice = make_user("alice")
    with pytest.raises(Invalid) as err:
        alert_settings.put_alert_settings(backend, alice, {"events": {"custom": {"slack": True}}})
    assert err.value.field == "slack_webhook_url"
    assert alert_settings.get_alert_settings(backend, alice)["events"] == DEFAULTS


def test_alert_settings_body_must_be_an_object(backend, make_user):
    with pytest.raises(Malformed):
        alert_settings.put_alert_settings(backend, make_user("alice"), "email=on")  # type: ignore[arg-type]


# --- custom alerts ---------------------------------------------------------


def test_a_custom_alert_mails_the_primary_verified_address(backend, make_user):
    alice = make_user("alice")
    sent = alerts.send_alert(backend, alice, "Loss diverged", "loss=nan at step 40", level="error")
    assert sent["title"] == "Loss diverged" and sent["level"] == "ERROR"
    assert sent["suppressed"] is False and sent["text"] == "loss=nan at step 40"
    assert dt.datetime.fromisoformat(sent["created_at"])
    assert outbox(backend) == [("email", "alice@example.org", "alert_custom")]
    with backend.db.reader() as session:
        note = session.scalar(select(Notification))
        assert note is not None and "Loss diverged" in note.subject and "step 40" in note.body


def test_repeats_inside_wait_duration_are_suppressed(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    assert not alerts.send_alert(backend, alice, "Slow", wait_duration=300)["suppressed"]
    assert alerts.send_alert(backend, alice, "Slow", wait_duration=300)["suppressed"]
    assert alerts.send_alert(backend, alice, "Slow", wait_duration=dt.timedelta(minutes=5))[
        "suppressed"
    ]
    # Another title, another user, or no wait: not suppressed.
    assert not alerts.send_alert(backend, alice, "Fast", wait_duration=300)["suppressed"]
    assert not alerts.send_alert(backend, bob, "Slow", wait_duration=300)["suppressed"]
    assert not alerts.send_alert(backend, alice, "Slow")["suppressed"]
    assert len(outbox(backend)) == 4
    assert [a.suppressed for a in alert_rows(backend)] == [False, True, True, False, False, False]


def test_suppression_window_counts_from_the_last_alert_sent(backend, make_user):
    alice = make_user("alice")
    alerts.send_alert(backend, alice, "Hot", wait_duration=60)
    # Make the sent alert 2 minutes old, and a suppressed repeat 10 s old.
    with backend.db.transaction() as session:
        first = session.scalars(select(Alert)).one()
        first.created_at = first.created_at - dt.timedelta(minutes=2)
        session.add(
            Alert(
                user_id=alice.user_id,
                event="custom",
                title="Hot",
                suppressed=True,
                created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=10),
            )
        )
    # The suppressed one does not extend the window: this one is sent.
    assert not alerts.send_alert(backend, alice, "Hot", wait_duration=60)["suppressed"]
    assert alerts.send_alert(backend, alice, "Hot", wait_duration=60)["suppressed"]
    assert len(outbox(backend)) == 2


def test_custom_alerts_follow_the_channel_switches(backend, make_user):
    alice = make_user("alice")
    alert_settings.put_alert_settings(
        backend,
        alice,
        {"events": {"custom": {"email": False, "slack": True}}, "slack_webhook_url": HOOK},
    )
    alerts.send_alert(backend, alice, "Done", level="warn")
    assert outbox(backend) == [("slack", HOOK, "alert_custom")]
    alert_settings.put_alert_settings(backend, alice, {"events": {"custom": {"slack": False}}})
    alerts.send_alert(backend, alice, "Done again")
    assert len(outbox(backend)) == 1
    # Recorded all the same.
    assert len(alert_rows(backend)) == 2


def test_no_mail_to_an_unverified_primary(backend, make_user):
    alice = make_user("alice")
    with backend.db.transaction() as session:
        email = session.scalars(select(Email).where(Email.user_id == alice.user_id)).one()
        email.verified = False
    alerts.send_alert(backend, alice, "Anyone there?")
    assert outbox(backend) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 257}, "title"),
        ({"title": None}, "title"),
        ({"title": "ok", "level": "CRITICAL"}, "level"),
        ({"title": "ok", "level": 3}, "level"),
        ({"title": "ok", "wait_duration": -1}, "wait_duration"),
        ({"title": "ok", "wait_duration": 7 * 24 * 3600 + 1}, "wait_duration"),
        ({"title": "ok", "wait_duration": math.nan}, "wait_duration"),
        ({"title": "ok", "wait_duration": math.inf}, "wait_duration"),
        ({"title": "ok", "wait_duration": "60"}, "wait_duration"),
        ({"title": "ok", "wait_duration": True}, "wait_duration"),
        ({"title": "ok", "text": "x" * 10_001}, "text"),
        ({"title": "ok", "text": 5}, "text"),
        ({"title": "ok", "run_id": ""}, "run_id"),
        ({"title": "ok", "run_id": "r" * 17}, "run_id"),
    ],
)
def test_bad_alerts_are_invalid_and_record_nothing(backend, make_user, kwargs, field):
    alice = make_user("alice")
    with pytest.raises(Invalid) as err:
        alerts.send_alert(backend, alice, **kwargs)
    assert err.value.field == field
    assert alert_rows(backend) == [] and outbox(backend) == []


def test_limits_of_custom_alerts_are_inclusive(backend, make_user):
    alice = make_user("alice")
    sent = alerts.send_alert(backend, alice, "t" * 256, "x" * 10_000, wait_duration=7 * 24 * 3600)
    assert len(sent["title"]) == 256


# --- teams, projects and runs made directly, to test dispatch alone --------


def make_team(backend: Backend, name: str, members: dict[Actor, str]) -> int:
    with backend.db.transaction() as session:
        org = Organization(name=f"{name}-org")
        session.add(org)
        session.flush()
        team = Team(name=name, type="work", org_id=org.id)
        session.add(team)
        session.flush()
        for actor, role in members.items():
            session.add(Membership(team_id=team.id, user_id=actor.user_id, role=role))
        return team.id


def make_run(
    backend: Backend, creator: Actor, *, team_id: int | None = None, visibility: str = "team"
) -> str:
    with backend.db.transaction() as session:
        user = session.get(User, creator.user_id)
        assert user is not None
        entity = user.username
        if team_id is not None:
            team = session.get(Team, team_id)
            assert team is not None
            entity = team.name
        project = Project(
            entity=entity,
            name=f"proj-{visibility}",
            team_id=team_id,
            owner_id=None if team_id is not None else creator.user_id,
            visibility=visibility,
            created_by=creator.user_id,
        )
        session.add(project)
        session.flush()
        run_id = f"run{project.id:04d}x"
        session.add(
            Run(
                id=run_id,
                project_id=project.id,
                name="train",
                created_by=creator.user_id,
                logged_by=creator.user_id,
            )
        )
        return run_id


def end_run(backend: Backend, run_id: str, event: str, **kwargs: Any) -> None:
    with backend.db.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.state = "finished" if event == "run_finished" else "crashed"
        run.ended_at = dt.datetime.now(dt.timezone.utc)
        dispatch_run_event(backend, session, run, event, **kwargs)


def set_team_alerts(
    backend: Backend, team_id: int, switches: dict[tuple[str, str], bool], *, email: str, slack: str
) -> None:
    with backend.db.transaction() as session:
        team = session.get(Team, team_id)
        assert team is not None
        team.alert_email = email
        team.slack_webhook_url = slack
        for (event, channel), on in switches.items():
            session.add(AlertPreference(team_id=team_id, event=event, channel=channel, enabled=on))


def test_a_personal_run_alerts_its_creator_only(backend, make_user):
    alice = make_user("alice")
    run_id = make_run(backend, alice)
    end_run(backend, run_id, "run_finished")
    assert outbox(backend) == [("email", "alice@example.org", "alert_run_finished")]
    [alert] = alert_rows(backend)
    assert (alert.event, alert.level, alert.run_id, alert.user_id) == (
        "run_finished",
        "INFO",
        run_id,
        alice.user_id,
    )
    assert "alice/proj-team" in alert.text and "train" in alert.title


def test_team_channels_are_silent_until_an_admin_turns_them_on(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    team_id = make_team(backend, "vision", {alice: "admin", bob: "member"})
    run_id = make_run(backend, bob, team_id=team_id)
    end_run(backend, run_id, "run_crashed")
    assert outbox(backend) == [("email", "bob@example.org", "alert_run_crashed")]
    assert alert_rows(backend)[0].level == "ERROR"


def test_team_channels_add_to_the_creators_and_share_a_slack_channel_once(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    team_id = make_team(backend, "vision", {alice: "admin", bob: "member"})
    set_team_alerts(
        backend,
        team_id,
        {("run_crashed", "email"): True, ("run_crashed", "slack"): True},
        email="vision-alerts@example.org",
        slack=HOOK,
    )
    alert_settings.put_alert_settings(
        backend, bob, {"events": {"run_crashed": {"slack": True}}, "slack_webhook_url": HOOK}
    )
    run_id = make_run(backend, bob, team_id=team_id)
    end_run(backend, run_id, "run_crashed")
    assert outbox(backend) == [
        ("email", "bob@example.org", "alert_run_crashed"),
        ("slack", HOOK, "alert_run_crashed"),
        ("email", "vision-alerts@example.org", "alert_run_crashed"),
    ]
    # run_finished is off for the team: only the creator hears of it.
    other = make_run(backend, bob, team_id=team_id, visibility="open")
    end_run(backend, other, "run_finished")
    assert outbox(backend)[3:] == [("email", "bob@example.org", "alert_run_finished")]


def test_a_team_switch_without_a_recipient_sends_nothing(backend, make_user):
    alice = make_user("alice")
    team_id = make_team(backend, "vision", {alice: "admin"})
    set_team_alerts(backend, team_id, {("run_finished", "email"): True}, email="", slack="")
    alert_settings.put_alert_settings(
        backend, alice, {"events": {"run_finished": {"email": False}}}
    )
    end_run(backend, make_run(backend, alice, team_id=team_id), "run_finished")
    assert outbox(backend) == []
    assert len(alert_rows(backend)) == 1


def test_a_deleted_creators_team_run_still_alerts_the_team(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    team_id = make_team(backend, "vision", {alice: "admin", bob: "member"})
    set_team_alerts(
        backend, team_id, {("run_crashed", "email"): True}, email="team@example.org", slack=""
    )
    run_id = make_run(backend, bob, team_id=team_id)
    with backend.db.transaction() as session:
        user = session.get(User, bob.user_id)
        assert user is not None
        user.deleted = True
    end_run(backend, run_id, "run_crashed")
    assert outbox(backend) == [("email", "team@example.org", "alert_run_crashed")]


def test_threshold_alerts_carry_their_detail(backend, make_user):
    alice = make_user("alice")
    run_id = make_run(backend, alice)
    with backend.db.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        dispatch_run_event(backend, session, run, "threshold", detail="gpu.0.temp > 85 for 60 s")
        with pytest.raises(ValueError):
            dispatch_run_event(backend, session, run, "custom")
    [alert] = alert_rows(backend)
    assert alert.level == "WARN" and "gpu.0.temp > 85 for 60 s" in alert.text
    assert outbox(backend) == [("email", "alice@example.org", "alert_threshold")]


def test_a_rolled_back_run_end_sends_nothing(backend, make_user):
    alice = make_user("alice")
    run_id = make_run(backend, alice)
    with pytest.raises(RuntimeError), backend.db.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        dispatch_run_event(backend, session, run, "run_finished")
        raise RuntimeError("the service failed after dispatching")
    assert outbox(backend) == [] and alert_rows(backend) == []


def test_an_alert_may_name_only_a_run_its_sender_can_see(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    carol = make_user("carol")
    team_id = make_team(backend, "vision", {alice: "admin", bob: "member"})
    team_run = make_run(backend, alice, team_id=team_id)
    private_run = make_run(backend, alice, team_id=team_id, visibility="private")
    personal_run = make_run(backend, alice)
    assert alerts.send_alert(backend, bob, "ok", run_id=team_run)["title"] == "ok"
    for actor, run_id in (
        (carol, team_run),
        (bob, private_run),
        (bob, personal_run),
        (bob, "nope"),
    ):
        with pytest.raises(NotFound):
            alerts.send_alert(backend, actor, "peek", run_id=run_id)
    assert [a.run_id for a in alert_rows(backend)] == [team_run]
    with backend.db.reader() as session:
        note = session.scalars(select(Notification)).one()
        assert team_run in note.body
