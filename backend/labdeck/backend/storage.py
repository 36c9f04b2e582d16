"""The file store (fsspec) and the storage accounting behind quotas.

Files live under a root URL: the team's own connector when it set one
(F-TS-6), else the operator's default store. Only metadata is in the
database; a version's files sit under one prefix so that deleting it is one
recursive remove. Usage is computed from the database (artifact sizes and
metric point counts) rather than by listing buckets, which would be slow
and would not work for a store the team has since changed.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from .context import Backend
from .errors import Invalid, NotFound, TooLarge
from .models import ArtifactVersion, MetricSeries, Project, Run, Team, User

# What one stored metric point is charged (series id, time, value, index).
POINT_BYTES = 24


def store_for(session: Session, backend: Backend, project: Project) -> str:
    """Root URL of the store that holds `project`'s files, without a trailing '/'."""
    if project.team_id is not None:
        team = session.get(Team, project.team_id)
        if team is not None and team.storage_url:
            return team.storage_url.rstrip("/")
    return backend.settings.storage_url.rstrip("/")


def join(prefix: str, *parts: str) -> str:
    """A URL below `prefix`; the parts are already validated relative paths."""
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


def _fs(url: str) -> tuple[AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def write_files(url_prefix: str, files: Sequence[tuple[str, bytes]]) -> None:
    """Write each (relative path, content) below `url_prefix`."""
    fs, root = _fs(url_prefix)
    for rel, data in files:
        target = posixpath.join(root, rel)
        fs.makedirs(posixpath.dirname(target), exist_ok=True)
        fs.pipe_file(target, data)


def open_file(url: str) -> bytes:
    fs, path = _fs(url)
    try:
        data: bytes = fs.cat_file(path)
    except FileNotFoundError:
        raise NotFound("the file is missing from storage") from None
    return data


def delete_prefix(url_prefix: str) -> None:
    """Remove everything below the prefix; an absent prefix is already gone."""
    fs, root = _fs(url_prefix)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def check_writable(url: str, field: str = "storage_url") -> str:
    """F-TS-6: prove a connector URL works by writing and removing a probe
    file, so a typo is refused when saved rather than when an upload fails."""
    if not isinstance(url, str) or "://" not in url or len(url) > 1024:
        raise Invalid(f"{field} must be an fsspec URL such as s3://bucket/path", field=field)
    root = url.rstrip("/")
    probe = join(root, f".labdeck-write-check-{secrets.token_hex(8)}")
    try:
        fs, path = _fs(probe)
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        fs.pipe_file(path, b"labdeck")
        fs.rm(path)
    except ImportError as exc:
        raise Invalid(f"{field}: this server cannot use that store ({exc})", field=field) from None
    except Exception as exc:  # any backend failure means "cannot write there"
        raise Invalid(f"{field}: labdeck cannot write there ({exc})", field=field) from None
    return root


# Usage runs on every metrics write, so each is one statement, built once:
# SQLAlchemy then reuses its compiled form instead of rebuilding it per call.
_USER_USAGE = select(
    select(func.coalesce(func.sum(ArtifactVersion.size_bytes), 0))
    .join(Project, Project.id == ArtifactVersion.project_id)
    .where(Project.owner_id == bindparam("owner"))
    .scalar_subquery(),
    select(func.coalesce(func.sum(MetricSeries.count), 0))
    .join(Run, Run.id == MetricSeries.run_id)
    .where(Run.created_by == bindparam("owner"))
    .scalar_subquery(),
)
_TEAM_USAGE = select(
    select(func.coalesce(func.sum(ArtifactVersion.size_bytes), 0))
    .join(Project, Project.id == ArtifactVersion.project_id)
    .where(Project.team_id == bindparam("owner"))
    .scalar_subquery(),
    select(func.coalesce(func.sum(MetricSeries.count), 0))
    .join(Run, Run.id == MetricSeries.run_id)
    .join(Project, Project.id == Run.project_id)
    .where(Project.team_id == bindparam("owner"))
    .scalar_subquery(),
)


def _usage(session: Session | Connection, statement: Select[Any], owner: int) -> int:
    artifacts, points = session.execute(statement, {"owner": owner}).one()
    return int(artifacts or 0) + POINT_BYTES * int(points or 0)


def usage_for_user(session: Session | Connection, user_id: int) -> int:
    """Artifacts of the user's personal projects plus the metric data of every
    run the user created (F-US-7)."""
    return _usage(session, _USER_USAGE, user_id)


def usage_for_team(session: Session | Connection, team_id: int) -> int:
    """Artifacts and metric data of the team's projects (F-TS-5)."""
    return _usage(session, _TEAM_USAGE, team_id)


def user_quota(backend: Backend, user: User) -> int:
    return user.storage_quota_bytes or backend.settings.user_quota_bytes


def team_quota(backend: Backend, team: Team) -> int:
    return team.storage_quota_bytes or backend.settings.team_quota_bytes


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    units = ("kB", "MB", "GB", "TB")
    value, i = n / 1000, 0
    while value >= 1000 and i < len(units) - 1:
        value, i = value / 1000, i + 1
    return f"{value:.1f} {units[i]}"


@dataclass(frozen=True)
class QuotaOwner:
    """Whose storage a project's data counts against: its team, or the user
    who owns a personal project; `override` is that owner's own quota."""

    team_id: int | None
    user_id: int | None
    label: str
    override: int | None


def quota_owner(session: Session, project: Project) -> QuotaOwner:
    if project.team_id is not None:
        team = session.get(Team, project.team_id)
        assert team is not None
        return QuotaOwner(team.id, None, f"team {team.name}", team.storage_quota_bytes)
    user = session.get(User, project.owner_id)
    assert user is not None
    return QuotaOwner(None, user.id, f"user {user.username}", user.storage_quota_bytes)


def require_room(
    session: Session | Connection, backend: Backend, owner: QuotaOwner, adding: int
) -> None:
    """Refuse a write that would take the owner past its quota."""
    if adding <= 0:
        return
    if owner.team_id is not None:
        used = usage_for_team(session, owner.team_id)
        quota = owner.override or backend.settings.team_quota_bytes
    else:
        assert owner.user_id is not None
        used = usage_for_user(session, owner.user_id)
        quota = owner.override or backend.settings.user_quota_bytes
    if used + adding > quota:
        raise TooLarge(
            f"this write of {human_bytes(adding)} would take {owner.label} past its storage "
            f"quota ({human_bytes(used)} of {human_bytes(quota)} used); delete artifacts or "
            "runs, or ask an administrator for a larger quota"
        )


def require_quota(session: Session, backend: Backend, project: Project, adding: int) -> None:
    """Refuse a write that would take the project's owner past its quota."""
    if adding > 0:
        require_room(session, backend, quota_owner(session, project), adding)
