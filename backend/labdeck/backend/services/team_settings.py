"""Team settings (F-TS-1..4, F-TS-6) and the team profile (F-TM-9).

Settings are the team admins' alone, to read as much as to change: they
hold the alert address and the Slack webhook, which are secrets of sorts.
The profile is the team's public face: members read it, and anyone signed
in does once the team makes it public; even then each showcased project or
report is shown only to those who may see its project.

Team alert switches are `AlertPreference` rows with `team_id` set, read
through `alerting.team_preferences` (a missing row means off), for the run
events that `alerting` dispatches to a team.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import locks, storage, validate
from ..access import (
    actor_user,
    find_team,
    is_system_admin,
    membership,
    project_access,
    team_subject,
    visible_team,
)
from ..alerting import RUN_EVENTS, save_preferences, team_preferences
from ..context import Actor, Backend
from ..errors import Invalid, NotFound
from ..images import square_png_thumbnail
from ..models import Project, Report, Team, User
from ..notifier import CHANNELS
from ..permissions import require
from .alert_settings import slack_webhook

SETTINGS_FIELDS = ("force_private", "code_saving_default", "alerts", "storage_url")
ALERT_FIELDS = ("events", "email", "slack_webhook_url")
PROFILE_FIELDS = ("intro", "showcased_projects", "showcased_reports", "links", "visibility")
PROFILE_VISIBILITY = ("public", "members")
MAX_INTRO = 20_000
MAX_SHOWCASE = 20
MAX_LINKS = 20


def settings_view(session: Session, team: Team) -> dict[str, Any]:
    prefs = team_preferences(session, team.id)
    return {
        "team": team.name,
        "force_private": team.force_private,
        "code_saving_default": team.code_saving_default,
        "alerts": {
            "events": {event: prefs[event] for event in RUN_EVENTS},
            "email": team.alert_email,
            "slack_webhook_url": team.slack_webhook_url,
        },
        "storage_url": team.storage_url,
        "uses_default_storage": not team.storage_url,
    }


def _admin_team(session: Session, actor: Actor, team: str, action: str) -> tuple[User, Team]:
    user = actor_user(session, actor)
    found = visible_team(session, user, team)
    require(action, team_subject(session, found, user))
    return user, found


def get_settings(backend: Backend, actor: Actor, team: str) -> dict[str, Any]:
    with backend.db.reader() as session:
        _user, found = _admin_team(session, actor, team, "view team settings")
        return settings_view(session, found)


def _alert_changes(value: Any, http_hosts: frozenset[str]) -> dict[str, Any]:
    body = validate.json_object(value, "alerts")
    validate.only_fields(body, ALERT_FIELDS)
    clean: dict[str, Any] = {}
    if "events" in body:
        events = validate.json_object(body["events"], "alerts.events")
        switches: dict[tuple[str, str], bool] = {}
        for event, channels in events.items():
            field = f"alerts.events.{event}"
            if event not in RUN_EVENTS:
                raise Invalid(f"{field}: events are {', '.join(RUN_EVENTS)}", field=field)
            for channel, on in validate.json_object(channels, field).items():
                if channel not in CHANNELS:
                    raise Invalid(f"{field}: channels are {', '.join(CHANNELS)}", field=field)
                switches[(event, channel)] = validate.flag(on, f"{field}.{channel}")
        clean["events"] = switches
    if "email" in body:
        raw = body["email"]
        clean["email"] = "" if raw == "" else validate.email(raw, "alerts.email")
    if "slack_webhook_url" in body:
        clean["slack_webhook_url"] = slack_webhook(
            body["slack_webhook_url"], "alerts.slack_webhook_url", http_hosts
        )
    return clean


def _settings_changes(changes: Any, http_hosts: frozenset[str]) -> dict[str, Any]:
    body = validate.json_object(changes, "changes")
    validate.only_fields(body, SETTINGS_FIELDS)
    clean: dict[str, Any] = {}
    for key in ("force_private", "code_saving_default"):
        if key in body:
            clean[key] = validate.flag(body[key], key)
    if "alerts" in body:
        clean["alerts"] = _alert_changes(body["alerts"], http_hosts)
    if "storage_url" in body:
        clean["storage_url"] = validate.text(body["storage_url"], "storage_url", max_len=1024)
    return clean


def _save_alerts(session: Session, team: Team, alerts: dict[str, Any]) -> None:
    """A channel may be on only with somewhere to send to, so an admin never
    believes the team is alerted while every message is dropped."""
    switches: dict[tuple[str, str], bool] = alerts.get("events", {})
    merged = team_preferences(session, team.id)
    for (event, channel), on in switches.items():
        merged[event][channel] = on
    recipients = {
        "email": alerts.get("email", team.alert_email),
        "slack": alerts.get("slack_webhook_url", team.slack_webhook_url),
    }
    for channel, field in (("email", "alerts.email"), ("slack", "alerts.slack_webhook_url")):
        if not recipients[channel] and any(merged[e][channel] for e in RUN_EVENTS):
            raise Invalid(f"set {field} before turning {channel} alerts on", field=field)
    save_preferences(session, switches, team_id=team.id)
    team.alert_email = recipients["email"]
    team.slack_webhook_url = recipients["slack"]


def patch_settings(
    backend: Backend, actor: Actor, team: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Forcing privacy makes every existing project of the team private now;
    the projects service reads `force_private` for new ones. Turning it off
    again leaves projects private: nothing was recorded to go back to. A new
    storage URL must be one the operator allows (`connectors`) and is proved
    writable (a probe file written and removed, outside any transaction)
    before it is saved; "" goes back to the server's default store."""
    clean = _settings_changes(changes, backend.settings.slack_http_hosts)
    connector = clean.get("storage_url")
    if connector:
        # Only a team admin makes the server dial a store, and never while a
        # transaction is open: the check may wait for its deadline.
        with backend.db.reader() as session:
            _admin_team(session, actor, team, "manage team settings")
        connector = storage.check_writable(backend.settings, connector, "storage_url")
    with backend.db.transaction() as session:
        _user, found = _admin_team(session, actor, team, "manage team settings")
        if "storage_url" in clean:
            found.storage_url = connector or ""
        if "force_private" in clean:
            found.force_private = clean["force_private"]
            if found.force_private:
                session.execute(
                    update(Project).where(Project.team_id == found.id).values(visibility="private")
                )
        if "code_saving_default" in clean:
            found.code_saving_default = clean["code_saving_default"]
        if "alerts" in clean:
            # The team row's lock keeps two admins from both adding the same
            # preference row (team rows have user_id NULL, which the unique
            # constraint does not cover).
            locks.hold(session, locks.team(found.id))
            _save_alerts(session, found, clean["alerts"])
        session.flush()
        return settings_view(session, found)


def set_team_avatar(backend: Backend, actor: Actor, team: str, data: bytes) -> None:
    """Stored as the square PNG thumbnail that `images` makes of the upload."""
    png = square_png_thumbnail(data, field="image")
    with backend.db.transaction() as session:
        _user, found = _admin_team(session, actor, team, "manage team settings")
        found.avatar_png = png


def _profile_team(session: Session, user: User, name: str) -> Team:
    """Members and admin accounts see a team's profile; anyone signed in does
    when it is public; to others the team does not exist."""
    team = find_team(session, name)
    if team is not None and (
        team.profile_public
        or is_system_admin(user)
        or membership(session, team.id, user.id) is not None
    ):
        return team
    raise NotFound(f"no team named {name!r}")


def get_team_avatar(backend: Backend, actor: Actor, team: str) -> bytes:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = _profile_team(session, user, team)
        png = session.scalar(select(Team.avatar_png).where(Team.id == found.id))
        if png is None:
            raise NotFound(f"{found.name} has no avatar")
        return png


def _profile_view(session: Session, team: Team, user: User) -> dict[str, Any]:
    """Each showcased entry goes through `project_access`, the one rule for who
    sees a project; the lists are capped at MAX_SHOWCASE, and for a member the
    lookups it makes come from the session's identity map."""
    profile = team.profile or {}
    project_ids = [int(i) for i in profile.get("showcased_projects", [])]
    report_ids = [int(i) for i in profile.get("showcased_reports", [])]
    projects = {
        p.id: p
        for p in session.scalars(
            select(Project).where(Project.team_id == team.id, Project.id.in_(project_ids))
        )
        if project_access(session, user, p) is not None
    }
    reports = {
        r.id: (r, p)
        for r, p in session.execute(
            select(Report, Project)
            .join(Project, Project.id == Report.project_id)
            .where(Project.team_id == team.id, Report.id.in_(report_ids))
        )
        if project_access(session, user, p) is not None
    }
    return {
        "team": team.name,
        "intro": team.intro,
        "visibility": "public" if team.profile_public else "members",
        "links": list(profile.get("links", [])),
        "showcased_projects": [
            {"entity": p.entity, "name": p.name, "visibility": p.visibility}
            for p in (projects.get(i) for i in project_ids)
            if p is not None
        ],
        "showcased_reports": [
            {"id": r.id, "title": r.title, "entity": p.entity, "project": p.name}
            for r, p in (reports[i] for i in report_ids if i in reports)
        ],
    }


def get_team_profile(backend: Backend, actor: Actor, team: str) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _profile_view(session, _profile_team(session, user, team), user)


def _showcase(value: Any, field: str) -> list[Any]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_SHOWCASE:
        raise Invalid(f"{field} must be a list of at most {MAX_SHOWCASE} entries", field=field)
    return list(value)


def _links(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_LINKS:
        raise Invalid(f"links must be a list of at most {MAX_LINKS} links", field="links")
    links = []
    for link in value:
        body = validate.json_object(link, "links")
        validate.only_fields(body, ("title", "url"))
        title = validate.text(body.get("title", ""), "links.title", min_len=1, max_len=128)
        url = validate.http_url(body.get("url"), "links.url", allow_empty=False)
        links.append({"title": title, "url": url})
    return links


def _profile_changes(changes: Any) -> dict[str, Any]:
    body = validate.json_object(changes, "changes", max_bytes=200_000)
    validate.only_fields(body, PROFILE_FIELDS)
    clean: dict[str, Any] = {}
    if "intro" in body:
        clean["intro"] = validate.text(body["intro"], "intro", max_len=MAX_INTRO, strip=False)
    if "visibility" in body:
        clean["visibility"] = validate.choice(body["visibility"], "visibility", PROFILE_VISIBILITY)
    if "links" in body:
        clean["links"] = _links(body["links"])
    if "showcased_projects" in body:
        names = _showcase(body["showcased_projects"], "showcased_projects")
        clean["showcased_projects"] = [
            validate.project_name(n, "showcased_projects") for n in names
        ]
    if "showcased_reports" in body:
        ids = _showcase(body["showcased_reports"], "showcased_reports")
        if not all(validate.is_row_id(i) for i in ids):
            raise Invalid("showcased_reports must be report ids", field="showcased_reports")
        clean["showcased_reports"] = list(dict.fromkeys(ids))
    return clean


def _project_ids(session: Session, team: Team, names: list[str]) -> list[int]:
    rows = session.execute(
        select(func.lower(Project.name), Project.id).where(
            Project.team_id == team.id,
            func.lower(Project.name).in_([n.lower() for n in names]),
        )
    )
    found: dict[str, int] = {name: project_id for name, project_id in rows}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        raise Invalid(
            f"{team.name} has no project named {missing[0]!r}", field="showcased_projects"
        )
    return list(dict.fromkeys(found[n.lower()] for n in names))


def _report_ids(session: Session, team: Team, ids: list[int]) -> list[int]:
    found = set(
        session.scalars(
            select(Report.id)
            .join(Project, Project.id == Report.project_id)
            .where(Project.team_id == team.id, Report.id.in_(ids))
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"{team.name} has no report {missing[0]}", field="showcased_reports")
    return ids


def patch_team_profile(
    backend: Backend, actor: Actor, team: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Showcased projects are given by name and reports by id, and must be the
    team's own; they are stored by id, so a renamed project stays showcased."""
    clean = _profile_changes(changes)
    with backend.db.transaction() as session:
        user, found = _admin_team(session, actor, team, "manage team settings")
        profile = dict(found.profile or {})
        if "showcased_projects" in clean:
            profile["showcased_projects"] = _project_ids(
                session, found, clean["showcased_projects"]
            )
        if "showcased_reports" in clean:
            profile["showcased_reports"] = _report_ids(session, found, clean["showcased_reports"])
        if "links" in clean:
            profile["links"] = clean["links"]
        found.profile = profile
        if "intro" in clean:
            found.intro = clean["intro"]
        if "visibility" in clean:
            found.profile_public = clean["visibility"] == "public"
        session.flush()
        return _profile_view(session, found, user)
