"""Exports (F-TS-7): everything a team or a person has, as one zip archive.

The archive holds one JSON document (`team.json` or `user.json`) with every
record, `runs/<run id>/metrics.csv` with each run's points (one row a point:
`key,t,value`, a format that needs no column per key and loses nothing),
the files of every artifact version under `artifacts/<version id>/<path>`,
and each run's saved code (F-TS-4) under `runs/<run id>/code/`. A file
that is gone from its store, or whose path could escape the archive's
folder when unpacked, is listed with `"archive_path": null` instead of
failing the whole export.

Everything is read in one read-only unit of work, so the archive is one
consistent picture even while runs keep logging; each kind of record is
one query, however many projects there are. The artifact files are read
from their stores after it, outside any transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import posixpath
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .. import storage
from ..access import actor_user, team_subject, visible_team
from ..context import Actor, Backend
from ..errors import LabdeckError
from ..models import (
    AlertPreference,
    ApiKey,
    ArtifactAlias,
    ArtifactFile,
    ArtifactVersion,
    BetaFeatureChoice,
    CellMarker,
    CustomRole,
    Email,
    Invitation,
    Membership,
    MetricPoint,
    MetricSeries,
    ModelAlias,
    ModelVersion,
    Organization,
    OrgMember,
    Project,
    RegisteredModel,
    Report,
    ReportComment,
    ReportFollower,
    Run,
    RunFile,
    Team,
    User,
    utcnow,
)
from ..permissions import require
from ..roles import AccountType
from .invitations import invitation_query, invitation_view
from .members import member_row_view, members_query
from .team_settings import settings_view
from .teams import role_name

FORMAT_VERSION = 1
METRICS_HEADER = "key,t,value\n"


def _pick(obj: Any, *fields: str) -> dict[str, Any]:
    """The named attributes as JSON values (datetimes as ISO strings)."""
    values = {f: getattr(obj, f) for f in fields}
    return {f: v.isoformat() if isinstance(v, dt.datetime) else v for f, v in values.items()}


def _by(rows: Iterable[Any], attr: str) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        groups.setdefault(getattr(row, attr), []).append(row)
    return groups


def _usernames(session: Session, *refs: tuple[Iterable[Any], str]) -> dict[int | None, str]:
    """User ids → user names for every (rows, attribute) given, in one query."""
    wanted = {getattr(row, attr) for rows, attr in refs for row in rows} - {None}
    found = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {user_id: username for user_id, username in found}


def _safe_path(path: str) -> str | None:
    """A stored relative path as an archive member name, or None when it
    would land outside its folder (absolute, `..`, a drive letter)."""
    clean = posixpath.normpath(path.replace("\\", "/"))
    if clean.startswith(("/", "../")) or clean in (".", "..") or ":" in clean.split("/")[0]:
        return None
    return clean


def _write_metrics(zf: zipfile.ZipFile, session: Session, run_ids: Select[Any]) -> set[str]:
    """Streams every point of the runs into one CSV per run; returns the runs written."""
    rows = session.execute(
        select(MetricSeries.run_id, MetricSeries.key, MetricPoint.t, MetricPoint.v)
        .join(MetricPoint, MetricPoint.series_id == MetricSeries.id)
        .where(MetricSeries.run_id.in_(run_ids))
        .order_by(MetricSeries.run_id, MetricSeries.key, MetricPoint.t)
        .execution_options(yield_per=10_000)
    )
    written: set[str] = set()
    handle: io.TextIOWrapper | None = None
    writer: Any = None
    try:
        for run_id, key, t, v in rows:
            if run_id not in written:
                if handle is not None:
                    handle.close()
                written.add(run_id)
                member = zf.open(f"runs/{run_id}/metrics.csv", "w", force_zip64=True)
                handle = io.TextIOWrapper(member, encoding="utf-8", newline="")
                handle.write(METRICS_HEADER)
                writer = csv.writer(handle, lineterminator="\n")
            writer.writerow((key, repr(t), repr(v)))
    finally:
        if handle is not None:
            handle.close()
    return written


def _list_files(
    archive: _Archive, version: ArtifactVersion, files: list[ArtifactFile]
) -> list[dict[str, Any]]:
    """The version's files as listed in the document; each one whose path is
    safe in an archive is fetched into it later (`_Archive.fetch`)."""
    listed = []
    for file in files:
        entry = _pick(file, "path", "size_bytes", "sha256") | {"archive_path": None}
        member = _safe_path(file.path)
        if member is not None:
            url = storage.join(version.storage_url, file.path)
            archive.add_later(entry, url, f"artifacts/{version.id}/{member}")
        listed.append(entry)
    return listed


def _code_file(archive: _Archive, file: RunFile) -> dict[str, Any]:
    """A run's saved code file (F-TS-4) as listed; its text is fetched into
    `runs/<run id>/code/<seq>-<kind>` later, like an artifact's files."""
    entry = _pick(file, "seq", "kind", "name", "size_bytes") | {"archive_path": None}
    suffix = "txt" if file.kind == "command" else "py"
    archive.add_later(
        entry, file.storage_url, f"runs/{file.run_id}/code/{file.seq:05d}-{file.kind}.{suffix}"
    )
    return entry


def _rows(session: Session, column: Any, ids: Select[Any], *order: Any) -> list[Any]:
    """Every row of `column`'s table whose `column` is in `ids`, in one query."""
    return list(session.scalars(select(column.class_).where(column.in_(ids)).order_by(*order)))


def _content(archive: _Archive, session: Session, project_ids: Select[Any]) -> dict[str, Any]:
    """Projects, runs (with metrics and cell markers), reports and artifacts
    of the projects that `project_ids` selects."""
    projects = _rows(session, Project.id, project_ids, Project.id)
    place = {p.id: {"entity": p.entity, "project": p.name} for p in projects}
    runs = _rows(session, Run.project_id, project_ids, Run.created_at, Run.id)
    run_ids = select(Run.id).where(Run.project_id.in_(project_ids))
    markers = _by(_rows(session, CellMarker.run_id, run_ids, CellMarker.start_t), "run_id")
    code = _by(_rows(session, RunFile.run_id, run_ids, RunFile.run_id, RunFile.seq), "run_id")
    with_points = _write_metrics(archive.zf, session, run_ids)
    for run in runs:
        if run.id not in with_points:
            archive.zf.writestr(f"runs/{run.id}/metrics.csv", METRICS_HEADER)
    reports = _rows(session, Report.project_id, project_ids, Report.id)
    report_ids = select(Report.id).where(Report.project_id.in_(project_ids))
    comments = _rows(
        session, ReportComment.report_id, report_ids, ReportComment.created_at, ReportComment.id
    )
    followers = _rows(session, ReportFollower.report_id, report_ids)
    versions = _rows(session, ArtifactVersion.project_id, project_ids, ArtifactVersion.id)
    version_ids = select(ArtifactVersion.id).where(ArtifactVersion.project_id.in_(project_ids))
    files = _by(
        _rows(session, ArtifactFile.version_id, version_ids, ArtifactFile.path), "version_id"
    )
    aliases = _by(_rows(session, ArtifactAlias.version_id, version_ids), "version_id")
    names = _usernames(
        session,
        (projects, "created_by"),
        (runs, "created_by"),
        (runs, "logged_by"),
        (reports, "created_by"),
        (comments, "user_id"),
        (followers, "user_id"),
        (versions, "created_by"),
    )
    comments_of, followers_of = _by(comments, "report_id"), _by(followers, "report_id")
    marker_fields = ("execution_count", "first_line", "start_t", "end_t", "error")
    return {
        "projects": [
            _pick(p, "entity", "name", "visibility", "description", "created_at")
            | {"created_by": names.get(p.created_by)}
            for p in projects
        ],
        "runs": [
            _pick(r, "id", "name", "state", "created_at", "ended_at", "heartbeat_at")
            | _pick(r, "config", "system", "notes")
            | place[r.project_id]
            | {
                "created_by": names.get(r.created_by),
                "logged_by": names.get(r.logged_by),
                "metrics": f"runs/{r.id}/metrics.csv",
                "cell_markers": [_pick(m, *marker_fields) for m in markers.get(r.id, [])],
                "code": [_code_file(archive, f) for f in code.get(r.id, [])],
            }
            for r in runs
        ],
        "reports": [
            _pick(r, "id", "title", "body", "created_at", "updated_at")
            | place[r.project_id]
            | {
                "created_by": names.get(r.created_by),
                "followers": sorted(names.get(f.user_id, "") for f in followers_of.get(r.id, [])),
                "comments": [
                    _pick(c, "text", "created_at") | {"user": names.get(c.user_id)}
                    for c in comments_of.get(r.id, [])
                ],
            }
            for r in reports
        ],
        "artifacts": [
            _pick(v, "id", "name", "type", "version", "size_bytes", "storage_url", "created_at")
            | place[v.project_id]
            | {
                "metadata": v.meta,
                "aliases": sorted(a.alias for a in aliases.get(v.id, [])),
                "created_by": names.get(v.created_by),
                "files": _list_files(archive, v, files.get(v.id, [])),
            }
            for v in versions
        ],
    }


def _registry(session: Session, team_id: int) -> list[dict[str, Any]]:
    model_ids = select(RegisteredModel.id).where(RegisteredModel.team_id == team_id)
    models = _rows(session, RegisteredModel.id, model_ids, RegisteredModel.name)
    versions = _rows(session, ModelVersion.model_id, model_ids, ModelVersion.version)
    aliases = _by(_rows(session, ModelAlias.model_id, model_ids, ModelAlias.alias), "model_id")
    number = {v.id: v.version for v in versions}
    names = _usernames(session, (models, "created_by"), (versions, "created_by"))
    versions_of = _by(versions, "model_id")
    return [
        _pick(m, "id", "name", "created_at")
        | {
            "created_by": names.get(m.created_by),
            "versions": [
                _pick(v, "version", "created_at")
                | {"artifact_id": v.artifact_version_id, "created_by": names.get(v.created_by)}
                for v in versions_of.get(m.id, [])
            ],
            "aliases": [
                _pick(a, "alias", "protected") | {"version": number.get(a.version_id or -1)}
                for a in aliases.get(m.id, [])
            ],
        }
        for m in models
    ]


@dataclass
class _Archive:
    """A zip being built in memory, and the artifact files it still lacks:
    those are read from their stores only once the database work is over
    (`_archive`), so no transaction waits on a store."""

    zf: zipfile.ZipFile
    pending: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)

    def add_later(self, listed: dict[str, Any], url: str, member: str) -> None:
        self.pending.append((listed, url, member))

    def fetch(self, backend: Backend) -> None:
        """Each pending file into the archive; one gone from its store (or
        whose store fails) stays listed with `archive_path` null."""
        for listed, url, member in self.pending:
            try:
                data = storage.open_file(backend, url)
            except (LabdeckError, OSError, ValueError):
                continue
            self.zf.writestr(member, data)
            listed["archive_path"] = member


def _archive(
    backend: Backend, document_name: str, fill: Callable[[Session, _Archive], dict[str, Any]]
) -> bytes:
    """A zip built in memory: `fill` reads the database (one read-only unit
    of work, so one consistent picture) and writes what it holds; then the
    artifact files are fetched, and the JSON document is written last, once
    everything it lists exists."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        archive = _Archive(zf)
        with backend.db.reader() as session:
            document = fill(session, archive)
        archive.fetch(backend)
        zf.writestr(document_name, json.dumps(document, indent=2, ensure_ascii=False))
    return buffer.getvalue()


def _write_avatar(zf: zipfile.ZipFile, png: bytes | None) -> str | None:
    if png is None:
        return None
    zf.writestr("avatar.png", png)
    return "avatar.png"


def export_team(backend: Backend, actor: Actor, team: str) -> bytes:
    """Team admins only: the archive holds the team's private projects and its
    settings, alert addresses included."""

    def fill(session: Session, archive: _Archive) -> dict[str, Any]:
        user = actor_user(session, actor)
        found = visible_team(session, user, team)
        require("view team settings", team_subject(session, found, user))
        org = session.get(Organization, found.org_id)
        now = utcnow()
        content = _content(archive, session, select(Project.id).where(Project.team_id == found.id))
        avatar = session.scalar(select(Team.avatar_png).where(Team.id == found.id))
        services = session.scalars(
            select(User)
            .where(User.service_team_id == found.id, User.account_type == AccountType.SERVICE)
            .order_by(User.username)
        )
        invites = session.execute(
            invitation_query().where(Invitation.team_id == found.id).order_by(Invitation.id)
        )
        people = session.execute(members_query(found).order_by(User.username))
        return {
            "format": "labdeck-team-export",
            "format_version": FORMAT_VERSION,
            "exported_at": now.isoformat(),
            "exported_by": user.username,
            "team": _pick(found, "name", "type", "created_at", "intro", "profile_public")
            | {
                "organization": org.name if org else None,
                "profile": found.profile,
                "avatar": _write_avatar(archive.zf, avatar),
            },
            "settings": settings_view(session, found),
            "members": [member_row_view(row) for row in people],
            "service_accounts": [
                _pick(s, "username", "name", "created_at", "deleted") for s in services
            ],
            "invitations": [invitation_view(row, now) for row in invites],
            "registry": _registry(session, found.id),
            **content,
        }

    return _archive(backend, "team.json", fill)


def _account(session: Session, user: User) -> dict[str, Any]:
    """The person's own records, without a secret: API keys by prefix only,
    the GitHub login but not its token."""
    emails = session.scalars(select(Email).where(Email.user_id == user.id).order_by(Email.id))
    keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
    choices = session.scalars(select(BetaFeatureChoice).where(BetaFeatureChoice.user_id == user.id))
    alerts = session.scalars(
        select(AlertPreference).where(
            AlertPreference.user_id == user.id, AlertPreference.team_id.is_(None)
        )
    )
    teams = session.execute(
        select(Team.name, Organization.name, Membership, CustomRole.name)
        .join(Membership, Membership.team_id == Team.id)
        .join(Organization, Organization.id == Team.org_id)
        .outerjoin(CustomRole, CustomRole.id == Membership.custom_role_id)
        .where(Membership.user_id == user.id)
        .order_by(Team.name)
    )
    orgs = session.execute(
        select(Organization.name, OrgMember)
        .join(OrgMember, OrgMember.org_id == Organization.id)
        .where(OrgMember.user_id == user.id)
        .order_by(Organization.name)
    )
    profile = ("username", "name", "institution", "bio", "location", "website")
    return {
        "profile": _pick(user, *profile, "account_type", "created_at", "github_login"),
        "emails": [
            _pick(e, "address", "verified", "login_methods", "created_at")
            | {"primary": e.is_primary}
            for e in emails
        ],
        "api_keys": [
            _pick(k, "id", "name", "prefix", "created_at", "last_used_at", "revoked_at")
            for k in keys
        ],
        "beta_features": {c.name: c.enabled for c in choices},
        "alerts": {
            "preferences": [_pick(a, "event", "channel", "enabled") for a in alerts],
            "slack_webhook_url": user.slack_webhook_url,
        },
        "memberships": [
            {
                "team": team,
                "organization": org,
                "role": role_name(m.role, custom),
                "registry_admin": m.registry_admin,
                "joined_at": m.created_at.isoformat(),
            }
            for team, org, m, custom in teams
        ],
        "organizations": [
            {"name": name} | _pick(om, "models_access", "weave_access") | {"admin": om.is_admin}
            for name, om in orgs
        ],
    }


def export_user(backend: Backend, actor: Actor) -> bytes:
    """The actor's own data: account records and personal projects. Runs the
    person logged to team projects are the team's, exported with the team."""

    def fill(session: Session, archive: _Archive) -> dict[str, Any]:
        user = actor_user(session, actor)

        avatar = session.scalar(select(User.avatar_png).where(User.id == user.id))
        content = _content(archive, session, select(Project.id).where(Project.owner_id == user.id))
        return {
            "format": "labdeck-user-export",
            "format_version": FORMAT_VERSION,
            "exported_at": utcnow().isoformat(),
            **_account(session, user),
            "avatar": _write_avatar(archive.zf, avatar),
            **content,
        }

    return _archive(backend, "user.json", fill)
