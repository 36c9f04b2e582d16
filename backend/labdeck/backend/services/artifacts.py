"""Artifacts (F-TM-10): versioned sets of files with aliases and metadata.

Each version's files are written below
`<store>/artifacts/<project id>/<name>/<random folder>/` in the project's
store (the team's connector or the default, F-TS-6); the database holds the
version, its file list (size, SHA-256) and its aliases. The files are
written before the rows, outside any transaction, and removed again when
the rows cannot be committed; a delete removes them once it has committed
(`storage.purge`). So no transaction waits on a store, and rows never name
files that are not there.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import locks, storage, validate
from ..access import ProjectAccess, actor_user, project_by_id
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import (
    ArtifactAlias,
    ArtifactFile,
    ArtifactVersion,
    ModelVersion,
    RegisteredModel,
    User,
)
from ..paging import Page, page_result
from .projects import load_project, user_label

MAX_FILES = 10_000
PATH_MAX = 512
TYPE_MAX = 64
LATEST = "latest"


def clean_path(value: Any, field: str = "files") -> str:
    """A relative POSIX path that stays below the version's prefix: no
    absolute paths, no `..`, `.` or empty segments, no control characters."""
    if not isinstance(value, str) or not value or len(value) > PATH_MAX:
        raise Invalid(f"file paths must be 1–{PATH_MAX} characters of text", field=field)
    if any(ord(c) < 32 or c == "\x7f" for c in value) or "\\" in value:
        raise Invalid(f"file path {value!r} holds a control character or '\\'", field=field)
    if value.startswith("/") or any(part in ("", ".", "..") for part in value.split("/")):
        raise Invalid(
            f"file path {value!r} must be relative, without '.', '..' or empty parts", field=field
        )
    return value


def _files(files: Any) -> list[tuple[str, bytes]]:
    if not isinstance(files, Sequence) or isinstance(files, (str, bytes)) or not files:
        raise Invalid("an artifact needs at least one file", field="files")
    if len(files) > MAX_FILES:
        raise Invalid(f"an artifact holds at most {MAX_FILES} files", field="files")
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for item in files:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise Invalid("each file must be a (path, bytes) pair", field="files")
        path, data = clean_path(item[0]), item[1]
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise Invalid(f"the content of {path!r} must be bytes", field="files")
        if path in seen:
            raise Invalid(f"the file {path!r} is given twice", field="files")
        seen.add(path)
        out.append((path, bytes(data)))
    return out


def _meta(meta: Any) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(meta, Mapping):
        raise Invalid("meta must be a JSON object with name, type and metadata", field="meta")
    validate.only_fields(meta, ("name", "type", "metadata"))
    name = validate.alias(meta.get("name"), "name")
    kind = validate.alias(meta.get("type"), "type")
    if len(kind) > TYPE_MAX:
        raise Invalid(f"type must be at most {TYPE_MAX} characters", field="type")
    metadata = validate.json_object(meta.get("metadata", {}), "metadata")
    return name, kind, metadata


def load_artifact(
    session: Session, user: User, artifact_id: Any
) -> tuple[ArtifactVersion, ProjectAccess]:
    """An artifact version the user may view, or NotFound as if it did not exist."""
    version = session.get(ArtifactVersion, artifact_id) if validate.is_row_id(artifact_id) else None
    if version is None:
        raise NotFound("no artifact with that id")
    found = project_by_id(session, user, version.project_id, "artifact")
    found.require("view artifacts", user)
    return version, found


def _aliases(session: Session, version_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in version_ids}
    rows = session.execute(
        select(ArtifactAlias.version_id, ArtifactAlias.alias)
        .where(ArtifactAlias.version_id.in_(version_ids))
        .order_by(ArtifactAlias.alias)
    )
    for version_id, alias in rows:
        out[version_id].append(alias)
    return out


def _summary(
    version: ArtifactVersion, found: ProjectAccess, aliases: list[str], creator: User | None
) -> dict[str, Any]:
    return {
        "id": version.id,
        "entity": found.project.entity,
        "project": found.project.name,
        "name": version.name,
        "type": version.type,
        "version": version.version,
        "aliases": aliases,
        "metadata": version.meta,
        "size_bytes": version.size_bytes,
        "created_by": user_label(creator),
        "created_at": version.created_at.isoformat(),
    }


def artifact_view(
    session: Session, version: ArtifactVersion, found: ProjectAccess
) -> dict[str, Any]:
    files = session.execute(
        select(ArtifactFile.path, ArtifactFile.size_bytes, ArtifactFile.sha256)
        .where(ArtifactFile.version_id == version.id)
        .order_by(ArtifactFile.path)
    )
    view = _summary(
        version,
        found,
        _aliases(session, [version.id])[version.id],
        session.get(User, version.created_by),
    )
    view["files"] = [{"path": p, "size_bytes": s, "sha256": h} for p, s, h in files]
    return view


def list_artifacts(
    backend: Backend,
    actor: Actor,
    entity: str,
    project: str,
    limit: Any = None,
    cursor: Any = None,
) -> dict[str, Any]:
    """Every version, newest first (files are in `get_artifact`)."""
    page = Page.parse(limit, cursor)
    after = page.after_id()
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, project)
        found.require("view artifacts", user)
        query = (
            select(ArtifactVersion, User)
            .outerjoin(User, User.id == ArtifactVersion.created_by)
            .where(ArtifactVersion.project_id == found.project.id)
        )
        if after is not None:
            query = query.where(ArtifactVersion.id < after)
        rows = session.execute(
            query.order_by(ArtifactVersion.id.desc()).limit(page.limit + 1)
        ).all()
        shown = rows[: page.limit]
        aliases = _aliases(session, [v.id for v, _ in shown])
        items = [_summary(v, found, aliases[v.id], creator) for v, creator in shown]
        return page_result(items, list(rows), page, lambda row: row[0].id)


@dataclass(frozen=True)
class _Upload:
    """A version being created: what the client sent, and where its files went."""

    name: str
    kind: str
    metadata: dict[str, Any]
    content: list[tuple[str, bytes]]
    prefix: str

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.content)


def create_artifact(
    backend: Backend,
    actor: Actor,
    entity: str,
    project: str,
    meta: Mapping[str, Any],
    files: Sequence[tuple[str, bytes]],
) -> dict[str, Any]:
    """The next version of `meta["name"]` in the project; `latest` moves to it.

    Files first, rows after, and no database transaction open while the
    store is written: (1) a read checks the permission and the quota and
    picks the store; (2) the files go below a fresh prefix of their own;
    (3) one transaction checks again, under the quota owner's lock
    (`locks`), numbers the version and commits its rows. When (2) or (3)
    fails the files are removed again, so rows never name missing files
    and a failed upload leaves nothing behind."""
    name, kind, metadata = _meta(meta)
    content = _files(files)
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, project)
        found.require("create artifacts", user)
        upload = _Upload(name, kind, metadata, content, "")
        storage.require_quota(session, backend, found.project, upload.size)
        root = storage.store_for(session, backend, found.project)
        folder = [str(found.project.id), name, secrets.token_hex(8)]
    upload = replace(upload, prefix=storage.join(root, "artifacts", *folder))
    try:
        storage.write_files(backend, upload.prefix, content)
        return _record_version(backend, actor, entity, project, upload)
    except BaseException:
        storage.purge(backend, [upload.prefix])
        raise


def _record_version(
    backend: Backend, actor: Actor, entity: str, project: str, upload: _Upload
) -> dict[str, Any]:
    """The rows of a version whose files are stored already."""
    try:
        with backend.db.transaction() as session:
            found = load_project(session, actor_user(session, actor), entity, project)
            locks.hold(session, locks.quota_owner(found.project.team_id, found.project.owner_id))
            user = actor_user(session, actor)
            found = load_project(session, user, entity, project)
            found.require("create artifacts", user)
            proj = found.project
            storage.require_quota(session, backend, proj, upload.size)
            last = session.scalar(
                select(func.max(ArtifactVersion.version)).where(
                    ArtifactVersion.project_id == proj.id, ArtifactVersion.name == upload.name
                )
            )
            version = ArtifactVersion(
                project_id=proj.id,
                name=upload.name,
                type=upload.kind,
                version=(last or 0) + 1,
                meta=upload.metadata,
                size_bytes=upload.size,
                storage_url=upload.prefix,
                created_by=user.id,
            )
            session.add(version)
            session.flush()
            session.add_all(
                ArtifactFile(
                    version_id=version.id,
                    path=path,
                    size_bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
                for path, data in upload.content
            )
            _point_alias(session, version, LATEST)
            session.flush()
            return artifact_view(session, version, found)
    except IntegrityError:
        raise Conflict(
            f"another version of {upload.name!r} was created at the same time; try again"
        ) from None


def _point_alias(session: Session, version: ArtifactVersion, alias: str) -> None:
    """An alias names one version of the artifact: setting it moves it here."""
    row = session.scalar(
        select(ArtifactAlias).where(
            ArtifactAlias.project_id == version.project_id,
            ArtifactAlias.name == version.name,
            ArtifactAlias.alias == alias,
        )
    )
    if row is None:
        session.add(
            ArtifactAlias(
                project_id=version.project_id, name=version.name, alias=alias, version_id=version.id
            )
        )
    else:
        row.version_id = version.id


def get_artifact(backend: Backend, actor: Actor, artifact_id: int) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        version, found = load_artifact(session, user, artifact_id)
        return artifact_view(session, version, found)


def patch_artifact(
    backend: Backend, actor: Actor, artifact_id: int, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Only the metadata changes; a version's files never do."""
    if not isinstance(changes, Mapping):
        raise Invalid("changes must be a JSON object", field="changes")
    validate.only_fields(changes, ("metadata",))
    metadata = (
        validate.json_object(changes["metadata"], "metadata") if "metadata" in changes else None
    )
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        version, found = load_artifact(session, user, artifact_id)
        found.require("edit metadata", user)
        if metadata is not None:
            version.meta = metadata
        session.flush()
        return artifact_view(session, version, found)


def linked_model(session: Session, version_id: int) -> str | None:
    return session.scalar(
        select(RegisteredModel.name)
        .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
        .where(ModelVersion.artifact_version_id == version_id)
        .limit(1)
    )


def delete_artifact(backend: Backend, actor: Actor, artifact_id: int) -> None:
    """Refused while the model registry links the version: deleting it would
    drop that model version and its protected aliases, which only registry
    admins may remove."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        version, found = load_artifact(session, user, artifact_id)
        found.require("delete artifacts", user)
        model = linked_model(session, version.id)
        if model is not None:
            raise Conflict(
                f"this artifact is a version of registered model {model!r}; "
                "it cannot be deleted while the registry links it"
            )
        prefix = version.storage_url
        session.delete(version)
    storage.purge(backend, [prefix])


def put_alias(backend: Backend, actor: Actor, artifact_id: int, alias: str) -> dict[str, Any]:
    clean = validate.alias(alias)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        version, found = load_artifact(session, user, artifact_id)
        found.require("edit aliases", user)
        _point_alias(session, version, clean)
        session.flush()
        return artifact_view(session, version, found)


def delete_alias(backend: Backend, actor: Actor, artifact_id: int, alias: str) -> dict[str, Any]:
    clean = validate.alias(alias)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        version, found = load_artifact(session, user, artifact_id)
        found.require("delete aliases", user)
        row = session.scalar(
            select(ArtifactAlias).where(
                ArtifactAlias.version_id == version.id, ArtifactAlias.alias == clean
            )
        )
        if row is None:
            raise NotFound(f"this artifact version has no alias {clean!r}")
        session.delete(row)
        session.flush()
        return artifact_view(session, version, found)


def file_url(session: Session, version: ArtifactVersion, path: Any) -> str:
    """Where one recorded file of a version is stored; only recorded paths
    are, so a crafted path cannot reach outside the version's prefix. (The
    caller reads it once its transaction is over.)"""
    if not isinstance(path, str) or session.get(ArtifactFile, (version.id, path)) is None:
        raise NotFound("this artifact version has no such file")
    return storage.join(version.storage_url, path)


def download_file(backend: Backend, actor: Actor, artifact_id: int, path: str) -> bytes:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        version, found = load_artifact(session, user, artifact_id)
        found.require("download artifact", user)
        url = file_url(session, version, path)
    return storage.open_file(backend, url)
