"""Who hears about what (F-US-4, F-TS-2, F-SM-11): the alert preferences and
the dispatch that services call inside their own transaction.

Dispatch only writes rows (an `Alert` and outbox messages through the
notifier) in the caller's session, so a run that fails to end sends nothing,
and a slow SMTP server or Slack never holds a database transaction open.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from . import locks
from .context import Backend
from .models import Alert, AlertPreference, Email, Project, Run, Team, User, utcnow
from .notifier import CHANNELS, Message

EVENTS = ("run_finished", "run_crashed", "custom", "threshold", "idle")
RUN_EVENTS = ("run_finished", "run_crashed", "threshold", "idle")


class AlertLevel(str, enum.Enum):
    """A custom alert's level; callers may spell it in any case (`"warn"`)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


LEVELS = tuple(level.value for level in AlertLevel)
# A person hears about their own runs by email until they say otherwise; a
# team's channels stay silent until an admin turns them on (and names a
# recipient), so creating a team never starts mailing anyone.
USER_DEFAULTS = {"email": True, "slack": False}
TEAM_DEFAULTS = {"email": False, "slack": False}

_RUN_EVENT = {
    "run_finished": ("INFO", "finished"),
    "run_crashed": ("ERROR", "crashed"),
    "threshold": ("WARN", "crossed an alert threshold"),
    "idle": ("WARN", "holds resources while idle"),
}

Preferences = dict[str, dict[str, bool]]


def _preferences(
    session: Session, where: ColumnElement[bool], defaults: dict[str, bool]
) -> Preferences:
    prefs = {event: dict(defaults) for event in EVENTS}
    rows = session.execute(
        select(AlertPreference.event, AlertPreference.channel, AlertPreference.enabled).where(where)
    )
    for event, channel, enabled in rows:
        if event in prefs and channel in prefs[event]:
            prefs[event][channel] = enabled
    return prefs


def _owned(user_id: int | None, team_id: int | None) -> ColumnElement[bool]:
    """The rows of a person (`team_id` None) or of a team's own channels
    (`user_id` None): `== None` compiles to IS NULL."""
    return (AlertPreference.user_id == user_id) & (AlertPreference.team_id == team_id)


def user_preferences(session: Session, user_id: int) -> Preferences:
    """event → channel → on/off for a person, defaults filled in."""
    return _preferences(session, _owned(user_id, None), USER_DEFAULTS)


def team_preferences(session: Session, team_id: int) -> Preferences:
    """event → channel → on/off for a team's own channels (F-TS-2), defaults filled in."""
    return _preferences(session, _owned(None, team_id), TEAM_DEFAULTS)


def save_preferences(
    session: Session,
    switches: dict[tuple[str, str], bool],
    *,
    user_id: int | None = None,
    team_id: int | None = None,
) -> None:
    """Store (event, channel) → on/off for a person (`user_id`) or for a
    team's own channels (`team_id`): one row per switch, updated in place."""
    rows = session.scalars(select(AlertPreference).where(_owned(user_id, team_id)))
    existing = {(row.event, row.channel): row for row in rows}
    for (event, channel), on in switches.items():
        row = existing.get((event, channel))
        if row is None:
            session.add(
                AlertPreference(
                    user_id=user_id, team_id=team_id, event=event, channel=channel, enabled=on
                )
            )
        else:
            row.enabled = on


def _user_targets(session: Session, user: User, event: str) -> list[tuple[str, str]]:
    """(channel, recipient) pairs for a person. Mail goes only to a verified
    primary address: an unverified one may belong to somebody else."""
    if user.deleted:
        return []
    wanted = user_preferences(session, user.id)[event]
    targets = []
    if wanted["email"]:
        address = session.scalar(
            select(Email.address).where(
                Email.user_id == user.id, Email.is_primary.is_(True), Email.verified.is_(True)
            )
        )
        if address:
            targets.append(("email", address))
    if wanted["slack"] and user.slack_webhook_url:
        targets.append(("slack", user.slack_webhook_url))
    return targets


def _team_targets(session: Session, team: Team, event: str) -> list[tuple[str, str]]:
    wanted = team_preferences(session, team.id)[event]
    recipients = {"email": team.alert_email, "slack": team.slack_webhook_url}
    return [
        (channel, recipients[channel])
        for channel in CHANNELS
        if wanted[channel] and recipients[channel]
    ]


def _send(
    backend: Backend,
    session: Session,
    targets: list[tuple[str, str]],
    subject: str,
    body: str,
    kind: str,
) -> None:
    """Once per recipient: a person and their team sharing one Slack channel
    get one message, not two."""
    for channel, recipient in dict.fromkeys(targets):
        backend.notifier.send(session, Message(channel, recipient, subject, body, kind))


def run_link(backend: Backend, run_id: str) -> str:
    """Where a message sends its reader to see a run: the run over the REST
    API on the server's public URL ("" where no URL is known)."""
    return backend.link(f"labdeck/api/runs/{run_id}")


def _run_text(backend: Backend, run: Run, where: str, summary: str, detail: str) -> str:
    lines = [f"Run {run.name!r} ({run.id}) in {where} {summary}."]
    lines.append(f"Started: {run.created_at.isoformat()}")
    if run.ended_at is not None:
        lines.append(f"Ended: {run.ended_at.isoformat()} (after {run.ended_at - run.created_at})")
    if detail:
        lines.append(detail)
    link = run_link(backend, run.id)
    if link:
        lines.append(f"See the run: {link}")
    return "\n".join(lines)


def dispatch_run_event(
    backend: Backend,
    session: Session,
    run: Run,
    event: str,
    *,
    detail: str = "",
    channels: tuple[str, ...] = CHANNELS,
    user_channels: bool = True,
    team_channels: bool = True,
) -> None:
    """Record a run's alert and message its creator's and its team's
    channels that are switched on for `event` (F-US-4, F-TS-2), among
    `channels`. `detail` adds the specifics (the error line of a crash, the
    threshold rule that broke, what an idle kernel holds)."""
    if event not in RUN_EVENTS:
        raise ValueError(f"unknown run event {event!r}")
    project = session.get(Project, run.project_id)
    creator = session.get(User, run.created_by)
    assert project is not None and creator is not None
    level, summary = _RUN_EVENT[event]
    where = f"{project.entity}/{project.name}"
    title = f"Run {run.name} {summary}"[:256]
    text = _run_text(backend, run, where, summary, detail)
    session.add(
        Alert(user_id=creator.id, run_id=run.id, event=event, title=title, text=text, level=level)
    )
    targets = _user_targets(session, creator, event) if user_channels else []
    if project.team_id is not None and team_channels:
        team = session.get(Team, project.team_id)
        assert team is not None
        targets += _team_targets(session, team, event)
    targets = [(channel, recipient) for channel, recipient in targets if channel in channels]
    _send(backend, session, targets, f"[labdeck] {where}: {title}", text, f"alert_{event}")


def dispatch_threshold(backend: Backend, session: Session, run: Run, event: Any) -> None:
    """A threshold rule's breach (`thresholds.Event`): one alert through the
    rule owner's channels that the rule names; a recovery is recorded as an
    alert row and sent to nobody."""
    rule = event.rule
    if event.kind == "recovery":
        session.add(
            Alert(
                user_id=run.created_by,
                run_id=run.id,
                event="threshold",
                title=f"Run {run.name} recovered: {event.key} = {event.value:g}"[:256],
                text=f"{event.key} = {event.value:g} is back within {rule.describe()}.",
                level="INFO",
                suppressed=True,
            )
        )
        return
    detail = (
        f"Rule: {rule.describe()} ({'team' if rule.team_id is not None else 'personal'} rule "
        f"{rule.id}). {event.key} was {event.value:g} at "
        f"{dt.datetime.fromtimestamp(event.t, dt.timezone.utc).isoformat()}."
    )
    dispatch_run_event(
        backend,
        session,
        run,
        "threshold",
        detail=detail,
        channels=rule.channels,
        user_channels=rule.team_id is None,
        team_channels=rule.team_id is not None,
    )


def alert_view(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "title": alert.title,
        "text": alert.text,
        "level": alert.level,
        "suppressed": alert.suppressed,
        "created_at": alert.created_at.isoformat(),
    }


def raise_custom_alert(
    backend: Backend,
    session: Session,
    user: User,
    run_id: str | None,
    title: str,
    text: str,
    level: str,
    wait_duration: float,
) -> dict[str, Any]:
    """A `labdeck.alert()`: sent to the user's channels for `custom`, unless
    one with the same title was sent less than `wait_duration` seconds ago,
    in which case it is recorded as suppressed and goes to nobody."""
    # Two identical alerts racing must not both be sent: serialize per user.
    locks.hold(session, locks.user(user.id))
    now = utcnow()
    suppressed = False
    if wait_duration > 0:
        since = now - dt.timedelta(seconds=wait_duration)
        previous = session.scalar(
            select(Alert.id)
            .where(
                Alert.user_id == user.id,
                Alert.event == "custom",
                Alert.title == title,
                Alert.suppressed.is_(False),
                Alert.created_at >= since,
            )
            .limit(1)
        )
        suppressed = previous is not None
    alert = Alert(
        user_id=user.id,
        run_id=run_id,
        event="custom",
        title=title,
        text=text,
        level=level,
        suppressed=suppressed,
        created_at=now,
    )
    session.add(alert)
    session.flush()
    if not suppressed:
        body = text if run_id is None else f"{text}\n\nRun: {run_id}".lstrip()
        targets = _user_targets(session, user, "custom")
        _send(backend, session, targets, f"[labdeck] {level}: {title}", body, "alert_custom")
    return alert_view(alert)
