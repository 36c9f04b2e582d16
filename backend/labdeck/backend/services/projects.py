"""Projects (F-TM-10): the containers of runs, reports and artifacts.

`{entity}` is a team name or a user name (one namespace). A personal
project's owner acts as its team admin; a team project follows the team's
roles and the project's visibility, and service accounts (F-TM-6) act as
members of their own team's projects: the one rule for who sees a project
is `access.subject_on_project`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from .. import permissions, storage, validate
from ..access import (
    ProjectAccess,
    actor_user,
    find_team,
    is_service,
    membership,
    project_access,
    team_subject_for,
)
from ..context import Actor, Backend
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import ArtifactVersion, ModelVersion, Project, RegisteredModel, Team, User
from ..names import RESERVED_PREFIX

VISIBILITIES = ("private", "team", "open")
DESCRIPTION_MAX = 10_000


def user_label(user: User | None) -> str | None:
    """How a creator is shown: a deleted account keeps its runs (F-US-6) under
    its tombstone's placeholder instead of the name it gave up."""
    if user is None:
        return None
    return f"{RESERVED_PREFIX}{user.id}" if user.deleted else user.username


def load_project(session: Session, user: User, entity: str, name: str) -> ProjectAccess:
    """A project the user may see, or NotFound exactly as if it did not exist."""
    project = _find_project(session, _entity_key(entity), name)
    found = project_access(session, user, project) if project is not None else None
    if found is None:
        raise NotFound(f"no project {entity}/{name}")
    return found


def _entity_key(entity: Any) -> str:
    if not isinstance(entity, str) or not entity.strip():
        raise NotFound("no such entity")
    return entity.strip().lower()


def _find_project(session: Session, entity: str, name: str) -> Project | None:
    if not isinstance(name, str):
        return None
    return session.scalar(
        select(Project).where(
            Project.entity == entity, func.lower(Project.name) == name.strip().lower()
        )
    )


def _find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.username == name, User.deleted.is_(False)))


def project_view(project: Project, creator: User | None) -> dict[str, Any]:
    return {
        "id": project.id,
        "entity": project.entity,
        "name": project.name,
        "visibility": project.visibility,
        "description": project.description,
        "created_by": user_label(creator),
        "created_at": project.created_at.isoformat(),
    }


def _view(session: Session, project: Project) -> dict[str, Any]:
    creator = session.get(User, project.created_by) if project.created_by is not None else None
    return project_view(project, creator)


def list_projects(backend: Backend, actor: Actor, entity: str) -> list[dict[str, Any]]:
    """Every project of the entity the actor may see. An outsider sees only
    open projects, and an entity it can see nothing of answers 404 so that a
    private team's existence does not leak."""
    key = _entity_key(entity)
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        team = find_team(session, key)
        if team is not None:
            insider = membership(session, team.id, user.id) is not None or (
                is_service(user) and user.service_team_id == team.id
            )
        else:
            owner = _find_user(session, key)
            if owner is None:
                raise NotFound(f"no entity named {entity!r}")
            insider = owner.id == user.id and not is_service(user)
        creator = aliased(User)
        query = (
            select(Project, creator)
            .outerjoin(creator, creator.id == Project.created_by)
            .where(Project.entity == key)
            .order_by(func.lower(Project.name), Project.id)
        )
        if not insider:
            # Outsiders see open projects only (access.project_access); the
            # filter runs in SQL so a big team costs no per-project lookups.
            query = query.where(Project.visibility == "open")
        rows = session.execute(query).all()
        items = [
            project_view(project, who)
            for project, who in rows
            if not insider or project_access(session, user, project) is not None
        ]
        if not items and not insider:
            raise NotFound(f"no entity named {entity!r}")
        return items


def _visibility(value: Any, team: Team | None) -> str:
    if value is None:
        return "private" if team is not None and team.force_private else "team"
    chosen = validate.choice(value, "visibility", VISIBILITIES)
    if team is not None and team.force_private and chosen != "private":
        raise Invalid(
            f"team {team.name} keeps every project private; visibility must be private",
            field="visibility",
        )
    return chosen


def _create(session: Session, user: User, key: str, name: str, visibility: Any) -> Project:
    """Shared by create_project and the kernel's project resolution."""
    team = find_team(session, key)
    if team is not None:
        subject = team_subject_for(session, user, team)
        if subject.team_role is None and not subject.system_admin:
            raise NotFound(f"no team named {key!r}")
        permissions.require("create projects", subject)
        owner_id, team_id = None, team.id
    else:
        owner = _find_user(session, key)
        if owner is None:
            raise NotFound(f"no entity named {key!r}")
        if owner.id != user.id or is_service(user):
            raise Forbidden(f"you do not have the permission to create projects for {key}")
        owner_id, team_id = owner.id, None
    chosen = _visibility(visibility, team)
    if _find_project(session, key, name) is not None:
        raise Conflict(f"{key} already has a project named {name!r}", field="name")
    project = Project(
        entity=key,
        name=name,
        team_id=team_id,
        owner_id=owner_id,
        visibility=chosen,
        created_by=user.id,
    )
    session.add(project)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{key} already has a project named {name!r}", field="name") from None
    return project


def create_project(
    backend: Backend,
    actor: Actor,
    entity: str,
    name: str,
    visibility: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Without a visibility the project is `team`, or `private` in a team
    that forces privacy (F-TS-4)."""
    key = _entity_key(entity)
    clean = validate.project_name(name)
    text = validate.text(description, "description", max_len=DESCRIPTION_MAX, strip=False)
    if visibility is not None:
        validate.choice(visibility, "visibility", VISIBILITIES)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        project = _create(session, user, key, clean, visibility)
        project.description = text
        return project_view(project, user)


def get_project(backend: Backend, actor: Actor, entity: str, name: str) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _view(session, load_project(session, user, entity, name).project)


def patch_project(
    backend: Backend, actor: Actor, entity: str, name: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """The overview: description and visibility ("edit project overview": a
    member edits only the projects it created)."""
    if not isinstance(changes, Mapping):
        raise Invalid("changes must be a JSON object", field="changes")
    validate.only_fields(changes, ("description", "visibility"))
    description = (
        validate.text(changes["description"], "description", max_len=DESCRIPTION_MAX, strip=False)
        if "description" in changes
        else None
    )
    if "visibility" in changes:
        validate.choice(changes["visibility"], "visibility", VISIBILITIES)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, name)
        found.require("edit project overview", user, found.project.created_by)
        project = found.project
        if "visibility" in changes:
            team = session.get(Team, project.team_id) if project.team_id is not None else None
            project.visibility = _visibility(changes["visibility"], team)
        if description is not None:
            project.description = description
        return _view(session, project)


def _linked_model(session: Session, version_ids: Select[Any]) -> str | None:
    """The name of a registered model that links one of these artifact versions."""
    return session.scalar(
        select(RegisteredModel.name)
        .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
        .where(ModelVersion.artifact_version_id.in_(version_ids))
        .limit(1)
    )


def delete_project(backend: Backend, actor: Actor, entity: str, name: str) -> None:
    """Deletes its runs, reports and artifacts. Refused while an artifact of it
    is linked into the model registry: deleting it would drop registry
    versions and their protected aliases, which team admins may not touch."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, name)
        found.require("delete projects", user)
        project = found.project
        linked = _linked_model(
            session, select(ArtifactVersion.id).where(ArtifactVersion.project_id == project.id)
        )
        if linked is not None:
            raise Conflict(
                f"an artifact of this project is a version of registered model {linked!r}; "
                "it cannot be deleted while the registry links it"
            )
        prefixes = storage.project_files(
            session, backend, select(Project.id).where(Project.id == project.id)
        )
        session.delete(project)
    # Files go only once the rows are gone for good.
    storage.purge(backend, prefixes)


def parse_spec(spec: Any) -> tuple[str, str]:
    """`"name"` (the user's own entity; a service account's team) or
    `"entity/name"` (F-UI-2)."""
    raw = validate.text(spec, "project", max_len=200, min_len=1)
    if "/" in raw:
        entity, name = raw.split("/", 1)
        entity = validate.username(entity, "project")
    else:
        entity, name = "", raw
    return entity, validate.project_name(name, "project")


def resolve_or_create_project(
    session: Session, backend: Backend, user: User, spec: str
) -> ProjectAccess:
    """The project a monitor logs to, created on first use where the user may
    create projects; one that exists but is hidden answers 404."""
    entity, name = parse_spec(spec)
    if not entity:
        if is_service(user):
            team = session.get(Team, user.service_team_id)
            if team is None:
                raise NotFound("this service account has no team")
            entity = team.name
        else:
            entity = user.username
    existing = _find_project(session, entity, name)
    if existing is not None:
        found = project_access(session, user, existing)
        if found is None:
            raise NotFound(f"no project {entity}/{name}")
        return found
    project = _create(session, user, entity, name, None)
    found = project_access(session, user, project)
    assert found is not None
    return found


def ensure_project(backend: Backend, actor: Actor, spec: str) -> dict[str, Any]:
    """`monitor(project=...)`: the project view, creating the project if needed."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        return _view(session, resolve_or_create_project(session, backend, user, spec).project)
