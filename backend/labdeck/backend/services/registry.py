"""A team's model registry (F-TM-10): registered models whose versions link
artifact versions of the team's projects, with aliases.

A protected alias (for example `production`) is set, moved or removed only
by registry admins ("add or remove protected aliases"); team admins are
not registry admins by role, only when the team also made them one. A
protected alias may be declared before it points at a version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import permissions, storage, validate
from ..access import actor_user, find_team, team_subject_for
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, NotFound
from ..models import ArtifactVersion, ModelAlias, ModelVersion, RegisteredModel, Team, User
from ..permissions import Subject
from .artifacts import file_url, load_artifact

PROTECTED = "add or remove protected aliases"
LATEST = "latest"


def _team_access(session: Session, user: User, team: Team, missing: str) -> Subject:
    """Members (and the team's service accounts) see its registry; anyone else
    gets 404, as if the team or model did not exist."""
    subject = team_subject_for(session, user, team)
    if subject.team_role is None:
        raise NotFound(missing)
    permissions.require("view models in the registry", subject)
    return subject


def _load(session: Session, user: User, model_id: Any) -> tuple[RegisteredModel, Team, Subject]:
    model = session.get(RegisteredModel, model_id) if validate.is_row_id(model_id) else None
    team = session.get(Team, model.team_id) if model is not None else None
    if model is None or team is None:
        raise NotFound("no registered model with that id")
    return model, team, _team_access(session, user, team, "no registered model with that id")


def _views(session: Session, models: list[RegisteredModel], team: Team) -> list[dict[str, Any]]:
    """Views of several models: two queries whatever their number."""
    ids = [m.id for m in models]
    versions: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    numbers: dict[int, int] = {}
    aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
    protected: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for mv in session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id.in_(ids))
            .order_by(ModelVersion.version)
        ):
            numbers[mv.id] = mv.version
            versions[mv.model_id].append(
                {
                    "version": mv.version,
                    "artifact_id": mv.artifact_version_id,
                    "created_at": mv.created_at.isoformat(),
                }
            )
        for alias in session.scalars(
            select(ModelAlias).where(ModelAlias.model_id.in_(ids)).order_by(ModelAlias.alias)
        ):
            if alias.version_id is not None:
                aliases[alias.model_id][alias.alias] = numbers[alias.version_id]
            if alias.protected:
                protected[alias.model_id].append(alias.alias)
    return [
        {
            "id": m.id,
            "team": team.name,
            "name": m.name,
            "created_at": m.created_at.isoformat(),
            "versions": versions[m.id],
            "aliases": aliases[m.id],
            "protected_aliases": protected[m.id],
        }
        for m in models
    ]


def _view(session: Session, model: RegisteredModel, team: Team) -> dict[str, Any]:
    session.flush()
    return _views(session, [model], team)[0]


def _visible_team(session: Session, user: User, name: str) -> tuple[Team, Subject]:
    team = find_team(session, name) if isinstance(name, str) else None
    missing = f"no team named {name!r}"
    if team is None:
        raise NotFound(missing)
    return team, _team_access(session, user, team, missing)


def list_models(backend: Backend, actor: Actor, team: str) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found, _ = _visible_team(session, user, team)
        models = list(
            session.scalars(
                select(RegisteredModel)
                .where(RegisteredModel.team_id == found.id)
                .order_by(func.lower(RegisteredModel.name))
            )
        )
        return _views(session, models, found)


def create_model(backend: Backend, actor: Actor, team: str, name: str) -> dict[str, Any]:
    clean = validate.alias(name, "name")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found, subject = _visible_team(session, user, team)
        permissions.require("add models to the registry", subject)
        taken = session.scalar(
            select(RegisteredModel.id).where(
                RegisteredModel.team_id == found.id,
                func.lower(RegisteredModel.name) == clean.lower(),
            )
        )
        if taken is not None:
            raise Conflict(f"the registry already has a model named {clean!r}", field="name")
        model = RegisteredModel(team_id=found.id, name=clean, created_by=user.id)
        session.add(model)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(
                f"the registry already has a model named {clean!r}", field="name"
            ) from None
        return _view(session, model, found)


def get_model(backend: Backend, actor: Actor, model_id: int) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        model, team, _ = _load(session, user, model_id)
        return _view(session, model, team)


def link_version(backend: Backend, actor: Actor, model_id: int, artifact_id: int) -> dict[str, Any]:
    """The artifact version becomes the model's next version. It must be one
    the actor can see, in one of the registry's team's projects."""
    if not validate.is_row_id(artifact_id):
        raise Invalid("artifact_id must be a whole number", field="artifact_id")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        model, team, subject = _load(session, user, model_id)
        permissions.require("add models to the registry", subject)
        artifact, found = load_artifact(session, user, artifact_id)
        if found.project.team_id != team.id:
            raise Invalid(
                f"artifact_id must name an artifact of one of team {team.name}'s projects",
                field="artifact_id",
            )
        existing = session.scalar(
            select(ModelVersion.version).where(
                ModelVersion.model_id == model.id, ModelVersion.artifact_version_id == artifact.id
            )
        )
        if existing is not None:
            raise Conflict(f"this artifact is already version {existing} of {model.name!r}")
        last = session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model.id)
        )
        session.add(
            ModelVersion(
                model_id=model.id,
                version=(last or 0) + 1,
                artifact_version_id=artifact.id,
                created_by=user.id,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("another version was linked at the same time; try again") from None
        return _view(session, model, team)


def _version(session: Session, model: RegisteredModel, number: int | None) -> ModelVersion | None:
    """A version by number, or the latest one when `number` is None."""
    query = select(ModelVersion).where(ModelVersion.model_id == model.id)
    if number is None:
        query = query.order_by(ModelVersion.version.desc()).limit(1)
    else:
        query = query.where(ModelVersion.version == number)
    return session.scalar(query)


def _target(session: Session, model: RegisteredModel, number: int | None) -> ModelVersion | None:
    """What an alias is set to: a version that exists, or the latest (None
    while the model has none)."""
    target = _version(session, model, number)
    if target is None and number is not None:
        raise Invalid(f"{model.name!r} has no version {number}", field="version")
    return target


def _version_number(version: Any) -> int | None:
    if version is None:
        return None
    if not validate.is_row_id(version):
        raise Invalid("version must be a whole number from 1", field="version")
    return version


def _alias(session: Session, model: RegisteredModel, alias: str) -> ModelAlias | None:
    return session.scalar(
        select(ModelAlias).where(ModelAlias.model_id == model.id, ModelAlias.alias == alias)
    )


def put_alias(
    backend: Backend, actor: Actor, model_id: int, alias: str, version: int | None = None
) -> dict[str, Any]:
    """Point an alias at a version (the latest without one). Moving a
    protected alias needs the protected-alias permission as well."""
    clean = validate.alias(alias)
    number = _version_number(version)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        model, team, subject = _load(session, user, model_id)
        permissions.require("add aliases", subject)
        row = _alias(session, model, clean)
        if row is not None and row.protected:
            permissions.require(PROTECTED, subject)
        target = _target(session, model, number)
        if target is None:
            raise Conflict(f"{model.name!r} has no versions yet; link one first")
        if row is None:
            session.add(ModelAlias(model_id=model.id, alias=clean, version_id=target.id))
        else:
            row.version_id = target.id
        return _view(session, model, team)


def delete_alias(backend: Backend, actor: Actor, model_id: int, alias: str) -> dict[str, Any]:
    clean = validate.alias(alias)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        model, team, subject = _load(session, user, model_id)
        permissions.require("add aliases", subject)
        row = _alias(session, model, clean)
        if row is None:
            raise NotFound(f"{model.name!r} has no alias {clean!r}")
        if row.protected:
            permissions.require(PROTECTED, subject)
        session.delete(row)
        return _view(session, model, team)


def put_protected_alias(
    backend: Backend, actor: Actor, model_id: int, alias: str, version: int | None = None
) -> dict[str, Any]:
    """Protect an alias and point it at a version (the latest without one;
    none yet while the model has no versions)."""
    clean = validate.alias(alias)
    number = _version_number(version)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        model, team, subject = _load(session, user, model_id)
        permissions.require(PROTECTED, subject)
        target = _target(session, model, number)
        row = _alias(session, model, clean)
        if row is None:
            row = ModelAlias(model_id=model.id, alias=clean)
            session.add(row)
        row.protected = True
        row.version_id = target.id if target is not None else None
        return _view(session, model, team)


def delete_protected_alias(
    backend: Backend, actor: Actor, model_id: int, alias: str
) -> dict[str, Any]:
    """Lift the protection; an alias that points at a version stays as an
    ordinary one (remove it with delete_alias)."""
    clean = validate.alias(alias)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        model, team, subject = _load(session, user, model_id)
        permissions.require(PROTECTED, subject)
        row = _alias(session, model, clean)
        if row is None or not row.protected:
            raise NotFound(f"{model.name!r} has no protected alias {clean!r}")
        if row.version_id is None:
            session.delete(row)
        else:
            row.protected = False
        return _view(session, model, team)


def _resolve(session: Session, model: RegisteredModel, ref: Any) -> ModelVersion:
    """An alias, `latest` (the alias if set, else the highest version), or a
    version as `3` or `v3`."""
    text = validate.text(ref, "version", max_len=128, min_len=1)
    row = _alias(session, model, text)
    if row is not None and row.version_id is not None:
        target = session.get(ModelVersion, row.version_id)
    elif text == LATEST:
        target = _version(session, model, None)
    else:
        digits = text[1:] if text[:1] in ("v", "V") else text
        number = int(digits) if digits.isascii() and digits.isdigit() else 0
        target = _version(session, model, number) if validate.is_row_id(number) else None
    if target is None:
        raise NotFound(f"{model.name!r} has no version or alias {text!r}")
    return target


def download_model(
    backend: Backend, actor: Actor, model_id: int, alias_or_version: str, path: str
) -> bytes:
    """A file of the artifact behind a model version ("download models")."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        model, _, subject = _load(session, user, model_id)
        permissions.require("download models", subject)
        target = _resolve(session, model, alias_or_version)
        artifact = session.get(ArtifactVersion, target.artifact_version_id)
        assert artifact is not None
        url = file_url(session, artifact, path)
    return storage.open_file(backend, url)
