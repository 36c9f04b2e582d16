"""Issue 14 item 4: an `idle` alert reaches the TEAM's channels when a team
admin turned them on (and only then), delivered by the real outbox
deliverer to real peers on 127.0.0.1: aiosmtpd for the team's mail address
and the Slack stand-in for the team's webhook."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from mailpeers import Hook, slack_peer, smtp_peer, smtp_settings
from sqlalchemy import select
from test_beta_features_alerts import make_run

from labdeck.backend.context import Actor, Backend
from labdeck.backend.delivery.deliverer import Deliverer
from labdeck.backend.models import Notification, Team
from labdeck.backend.services import alert_settings, alerts, members, team_settings, teams


def _mailing(backend: Backend, smtp_port: int) -> Backend:
    settings = dataclasses.replace(
        backend.settings,
        slack_http_hosts=frozenset({"127.0.0.1"}),
        **smtp_settings(smtp_port),
    )
    return Backend(backend.db, settings)


def _team(backend: Backend, root: Actor, bob: Actor) -> int:
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "bob", "member")
    with backend.db.reader() as session:
        team_id = session.scalar(select(Team.id).where(Team.name == "vision"))
    assert team_id is not None
    return team_id


def _drain(deliverer: Deliverer) -> None:
    for _ in range(20):
        if not deliverer.run_once():
            return


def _idle(backend: Backend, bob: Actor, run_id: str) -> dict[str, Any]:
    return alerts.raise_idle_alert(
        backend,
        bob,
        run_id,
        idle_s=31 * 60,
        notebook="train.ipynb",
        kernel_id="k-1234",
        gpu_memory_bytes=3 * 2**30,
        gpu_util_percent=0.0,
    )


def _team_posts(hook: Hook) -> list[dict[str, Any]]:
    with hook.lock:
        return [body for name, body in hook.posts if name == "team"]


def test_an_idle_alert_reaches_the_team_channels_once_an_admin_turns_them_on(
    backend: Backend, make_user: Callable[..., Actor]
) -> None:
    root = make_user("root", admin=True)
    bob = make_user("bob")
    team_id = _team(backend, root, bob)
    with smtp_peer() as smtp, slack_peer() as hook:
        mailing = _mailing(backend, smtp.port)
        # Bob hears of his idle kernels by mail only (the default).
        assert alert_settings.get_alert_settings(mailing, bob)["events"]["idle"] == {
            "email": True,
            "slack": False,
        }
        deliverer = Deliverer(mailing)

        # Team channels are off: only the run's creator is told.
        quiet = make_run(mailing, bob, team_id=team_id)
        _idle(mailing, bob, quiet)
        _drain(deliverer)
        (first,) = smtp.inbox.wait_for(1)
        assert first.rcpt_tos == ["bob@example.org"]
        assert _team_posts(hook) == []

        team_settings.patch_settings(
            mailing,
            root,
            "vision",
            {
                "alerts": {
                    "email": "vision-alerts@example.org",
                    "slack_webhook_url": hook.url("team"),
                    "events": {"idle": {"email": True, "slack": True}},
                }
            },
        )
        loud = make_run(mailing, bob, team_id=team_id, visibility="open")
        raised = _idle(mailing, bob, loud)
        _drain(deliverer)
        mails = smtp.inbox.wait_for(3)
        team_post = hook.wait_for(lambda name, _body: name == "team")

    assert sorted(m.rcpt_tos[0] for m in mails[1:]) == [
        "bob@example.org",
        "vision-alerts@example.org",
    ]
    (team_mail,) = [m for m in mails if m.rcpt_tos == ["vision-alerts@example.org"]]
    for text in (team_mail.text, team_post[1]["text"]):
        assert "train.ipynb" in text and "k-1234" in text
        assert "3.0 GiB of GPU memory" in text and "31 min" in text
    assert team_post[1]["kind"] == "alert_idle"
    assert "train.ipynb" in raised["text"]
    # Exactly one team post and one team mail: nothing was sent twice.
    assert len(_team_posts(hook)) == 1
    with backend.db.reader() as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
    assert sorted((r.channel, r.recipient, r.kind) for r in rows) == [
        ("email", "bob@example.org", "alert_idle"),
        ("email", "bob@example.org", "alert_idle"),
        ("email", "vision-alerts@example.org", "alert_idle"),
        ("slack", hook.url("team"), "alert_idle"),
    ]
    assert all(r.sent_at is not None for r in rows)
