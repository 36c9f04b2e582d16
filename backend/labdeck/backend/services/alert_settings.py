"""A user's alert settings (F-US-4): event × channel on/off and their Slack
webhook. Dispatch reads the same preferences through `labdeck.backend.alerting`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from .. import locks, validate
from ..access import actor_user
from ..alerting import EVENTS, save_preferences, user_preferences
from ..context import Actor, Backend
from ..errors import Invalid, Malformed
from ..models import User
from ..notifier import CHANNELS


def slack_webhook(
    value: Any, field: str = "slack_webhook_url", http_hosts: frozenset[str] = frozenset()
) -> str:
    """https only: the URL is a secret that Slack messages are posted to, and
    plain http would send both over the wire in clear. Plain http only to a
    host the operator named (`slack_http_hosts`: a relay on this machine)."""
    url = validate.text(value, field, max_len=512)
    if not url:
        return ""
    parts = urlsplit(url)
    relay = parts.scheme == "http" and (parts.hostname or "").lower() in http_hosts
    if (parts.scheme != "https" and not relay) or not parts.hostname:
        raise Invalid(f"{field} must be an https:// URL (a Slack incoming webhook)", field=field)
    return url


def _parse(
    body: Mapping[str, Any], http_hosts: frozenset[str]
) -> tuple[dict[tuple[str, str], bool], str | None]:
    """(event, channel) → on/off for what the body names, and the webhook
    (None when the body leaves it out)."""
    if not isinstance(body, Mapping):
        raise Malformed("the alert settings must be a JSON object")
    validate.only_fields(body, ("events", "slack_webhook_url"))
    events = body.get("events", {})
    if not isinstance(events, Mapping):
        raise Invalid("events must be an object of event → channel → true/false", field="events")
    changes: dict[tuple[str, str], bool] = {}
    for event, channels in events.items():
        field = f"events.{event}"
        if event not in EVENTS:
            raise Invalid(f"unknown event {event!r}; events are {', '.join(EVENTS)}", field=field)
        if not isinstance(channels, Mapping):
            raise Invalid(f"{field} must be an object of channel → true/false", field=field)
        for channel, on in channels.items():
            if channel not in CHANNELS:
                raise Invalid(
                    f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}",
                    field=f"{field}.{channel}",
                )
            changes[(event, channel)] = validate.flag(on, f"{field}.{channel}")
    webhook = (
        slack_webhook(body["slack_webhook_url"], http_hosts=http_hosts)
        if "slack_webhook_url" in body
        else None
    )
    return changes, webhook


def _settings(session: Session, user: User) -> dict[str, Any]:
    return {
        "events": user_preferences(session, user.id),
        "slack_webhook_url": user.slack_webhook_url,
    }


def get_alert_settings(backend: Backend, actor: Actor) -> dict[str, Any]:
    with backend.db.reader() as session:
        return _settings(session, actor_user(session, actor))


def put_alert_settings(backend: Backend, actor: Actor, body: Mapping[str, Any]) -> dict[str, Any]:
    """Events and channels the body leaves out keep their state. Slack cannot
    be on for any event without a webhook to post to."""
    changes, webhook = _parse(body, backend.settings.slack_http_hosts)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        # One writer per account at a time: user rows have team_id NULL, which
        # the unique constraint does not cover, so a race could duplicate them.
        locks.hold(session, locks.user(user.id))
        merged = user_preferences(session, user.id)
        for (event, channel), on in changes.items():
            merged[event][channel] = on
        target = user.slack_webhook_url if webhook is None else webhook
        if not target and any(channels["slack"] for channels in merged.values()):
            raise Invalid(
                "set a Slack webhook URL before turning Slack alerts on",
                field="slack_webhook_url",
            )
        save_preferences(session, changes, user_id=user.id)
        user.slack_webhook_url = target
        session.flush()
        return _settings(session, user)
