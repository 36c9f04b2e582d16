"""The file store (fsspec) and the storage accounting behind quotas.

Files live under a root URL: the team's own connector when it set one
(F-TS-6), else the operator's default store. Only metadata is in the
database; a version's files sit under one prefix so that deleting it is one
recursive remove. Usage is computed from the database (artifact sizes and
metric point counts) rather than by listing buckets, which would be slow
and would not work for a store the team has since changed.
"""

from __future__ import annotations

import logging
import posixpath
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

import fsspec
from fsspec import AbstractFileSystem
from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from . import connectors
from .config import Settings
from .context import Backend
from .errors import Invalid, NotFound, TooLarge, Unavailable
from .models import ArtifactVersion, MetricSeries, Project, Run, RunFile, Team, User

log = logging.getLogger("labdeck")
T = TypeVar("T")

# What one stored metric point is charged (series id, time, value, index).
POINT_BYTES = 24


def store_for(session: Session, backend: Backend, project: Project) -> str:
    """Root URL of the store that holds `project`'s files, without a trailing
    '/'. A team's connector is used only while the operator's rules allow it
    (`connectors`): one saved before they were narrowed is refused, not dialed."""
    if project.team_id is not None:
        team = session.get(Team, project.team_id)
        if team is not None and team.storage_url:
            try:
                return connectors.allowed(backend.settings, team.storage_url)
            except Invalid:
                raise Invalid(
                    "this team's storage connector is not allowed on this server any more; "
                    "a team admin must choose another one in the team settings",
                    field="storage_url",
                ) from None
    return backend.settings.storage_url.rstrip("/")


def join(prefix: str, *parts: str) -> str:
    """A URL below `prefix`; the parts are already validated relative paths."""
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


def _fs(url: str) -> tuple[AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def _fs_within(url: str, timeout: float) -> tuple[AbstractFileSystem, str]:
    """`_fs` within the deadline: some filesystems connect as they are made."""
    return with_deadline(lambda: _fs(url), timeout)


# -- every call into a store: outside transactions, with a deadline --------------------------


class StorageTimeout(Exception):
    """A storage call outlived its deadline."""


# Bounded: calls stuck on a silent host cannot pile up threads; once every
# one of these is stuck, further calls time out waiting for a free one.
_STORAGE_THREADS = ThreadPoolExecutor(8, thread_name_prefix="labdeck-storage")


def with_deadline(call: Callable[[], T], timeout: float) -> T:
    """Run one storage call, waiting at most `timeout` seconds. One that
    outlives it is left to end in its thread (a stuck socket cannot be
    interrupted from outside) and `StorageTimeout` is raised. Services call
    stores only outside their database transactions, so a slow store never
    holds a database lock."""
    future = _STORAGE_THREADS.submit(call)
    try:
        return future.result(timeout)
    except FutureTimeout:
        future.cancel()
        raise StorageTimeout(f"no answer within {timeout:g} s") from None


def _unavailable(doing: str, url: str, exc: BaseException) -> Unavailable:
    """A store that failed: the details (hosts, paths) go to the operator's
    log, the client learns only that storage failed."""
    log.warning("labdeck: %s %s failed: %r", doing, url, exc)
    return Unavailable(
        f"the file store could not {doing} (a timeout or an error of the store); try again later",
        retry_after=30,
    )


def write_files(backend: Backend, url_prefix: str, files: Sequence[tuple[str, bytes]]) -> None:
    """Write each (relative path, content) below `url_prefix`, each file
    within the storage deadline."""
    timeout = backend.settings.storage_timeout
    try:
        fs, root = _fs_within(url_prefix, timeout)
        for rel, data in files:
            target = posixpath.join(root, rel)

            def write(target: str = target, data: bytes = data) -> None:
                fs.makedirs(posixpath.dirname(target), exist_ok=True)
                fs.pipe_file(target, data)

            with_deadline(write, timeout)
    except Exception as exc:
        raise _unavailable("store the files", url_prefix, exc) from None


def open_file(backend: Backend, url: str) -> bytes:
    timeout = backend.settings.storage_timeout
    try:
        fs, path = _fs_within(url, timeout)
        data: bytes = with_deadline(lambda: fs.cat_file(path), timeout)
    except FileNotFoundError:
        raise NotFound("the file is missing from storage") from None
    except Exception as exc:
        raise _unavailable("read the file", url, exc) from None
    return data


def delete_prefix(backend: Backend, url_prefix: str) -> None:
    """Remove everything below the prefix; an absent prefix is already gone."""

    def remove() -> None:
        fs, root = _fs(url_prefix)
        if fs.exists(root):
            fs.rm(root, recursive=True)

    with_deadline(remove, backend.settings.storage_timeout)


def files_below(backend: Backend, url_prefix: str) -> list[list[str]]:
    """The path parts, relative to `url_prefix`, of every file below it."""

    def find() -> tuple[str, list[str]]:
        fs, root = _fs(url_prefix)
        return root.rstrip("/") + "/", list(fs.find(root)) if fs.exists(root) else []

    base, found = with_deadline(find, backend.settings.storage_timeout)
    return [path[len(base) :].split("/") for path in found if path.startswith(base)]


def project_files(session: Session, backend: Backend, project_ids: Select[Any]) -> list[str]:
    """Every prefix that holds files of the projects `project_ids` selects:
    each artifact version's own and each saved code file of their runs
    (wherever its store was when it was written), and each project's
    folders in its store now."""
    prefixes = list(
        session.scalars(
            select(ArtifactVersion.storage_url).where(ArtifactVersion.project_id.in_(project_ids))
        )
    )
    run_ids = select(Run.id).where(Run.project_id.in_(project_ids))
    prefixes += session.scalars(select(RunFile.storage_url).where(RunFile.run_id.in_(run_ids)))
    for project in session.scalars(select(Project).where(Project.id.in_(project_ids))):
        try:
            root = store_for(session, backend, project)
        except Invalid:
            continue  # a connector no longer allowed is not touched
        prefixes.append(join(root, "artifacts", str(project.id)))
        prefixes.append(join(root, "runs", str(project.id)))
    return prefixes


def purge(backend: Backend, prefixes: Sequence[str]) -> list[str]:
    """Remove each prefix, once the rows that named it are gone for good. A
    store that fails is logged and the others still go (the deletion has
    committed; `labdeck storage orphans` finds what is left). Returns the
    prefixes that could not be removed."""
    failed = []
    for prefix in prefixes:
        try:
            delete_prefix(backend, prefix)
        except Exception as exc:  # any store failure: report it, purge the rest
            log.warning("labdeck: could not remove %s from storage: %r", prefix, exc)
            failed.append(prefix)
    return failed


def check_writable(settings: Settings, url: object, field: str = "storage_url") -> str:
    """F-TS-6: a connector URL the operator's rules allow (`connectors`),
    proved to work by writing and removing a probe file within the storage
    deadline, so a typo is refused when saved rather than when an upload
    fails. Call it outside any database transaction. What a store answered
    goes to the operator's log only."""
    root = connectors.allowed(settings, url, field)
    probe = join(root, f".labdeck-write-check-{secrets.token_hex(8)}")
    timeout = settings.storage_timeout

    def attempt() -> None:
        fs, path = _fs(probe)
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        fs.pipe_file(path, b"labdeck")
        fs.rm(path)

    try:
        with_deadline(attempt, timeout)
    except ImportError:
        scheme = root.split("://", 1)[0]
        raise Invalid(
            f"{field}: this server has no driver for {scheme}:// stores installed", field=field
        ) from None
    except StorageTimeout:
        log.warning("labdeck: storage connector check of %s: no answer in %g s", root, timeout)
        raise Invalid(
            f"{field}: the store did not answer within {timeout:g} s", field=field
        ) from None
    except Exception as exc:  # any backend failure means "cannot write there"
        log.warning("labdeck: storage connector check of %s failed: %r", root, exc)
        raise Invalid(
            f"{field}: labdeck could not write a test file there; check the location and "
            "the server's access to it",
            field=field,
        ) from None
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
    # Saved code (F-TS-4) is the run's, like its metric data.
    select(func.coalesce(func.sum(RunFile.size_bytes), 0))
    .join(Run, Run.id == RunFile.run_id)
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
    select(func.coalesce(func.sum(RunFile.size_bytes), 0))
    .join(Run, Run.id == RunFile.run_id)
    .join(Project, Project.id == Run.project_id)
    .where(Project.team_id == bindparam("owner"))
    .scalar_subquery(),
)


def _usage(session: Session | Connection, statement: Select[Any], owner: int) -> int:
    artifacts, points, code = session.execute(statement, {"owner": owner}).one()
    return int(artifacts or 0) + POINT_BYTES * int(points or 0) + int(code or 0)


def usage_for_user(session: Session | Connection, user_id: int) -> int:
    """Artifacts of the user's personal projects plus the metric data and
    saved code of every run the user created (F-US-7)."""
    return _usage(session, _USER_USAGE, user_id)


def usage_for_team(session: Session | Connection, team_id: int) -> int:
    """Artifacts, metric data and saved code of the team's projects (F-TS-5)."""
    return _usage(session, _TEAM_USAGE, team_id)


def quota(override: int | None, default: int) -> int:
    """An owner's own quota when an admin set one (0 included: nothing more
    may be stored), else the operator's default."""
    return default if override is None else override


def user_quota(backend: Backend, user: User) -> int:
    return quota(user.storage_quota_bytes, backend.settings.user_quota_bytes)


def team_quota(backend: Backend, team: Team) -> int:
    return quota(team.storage_quota_bytes, backend.settings.team_quota_bytes)


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
        limit = quota(owner.override, backend.settings.team_quota_bytes)
    else:
        assert owner.user_id is not None
        used = usage_for_user(session, owner.user_id)
        limit = quota(owner.override, backend.settings.user_quota_bytes)
    if used + adding > limit:
        raise TooLarge(
            f"this write of {human_bytes(adding)} would take {owner.label} past its storage "
            f"quota ({human_bytes(used)} of {human_bytes(limit)} used); delete artifacts or "
            "runs, or ask an administrator for a larger quota"
        )


def require_quota(session: Session, backend: Backend, project: Project, adding: int) -> None:
    """Refuse a write that would take the project's owner past its quota."""
    if adding > 0:
        require_room(session, backend, quota_owner(session, project), adding)
