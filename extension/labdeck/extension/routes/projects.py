"""Projects of an entity (a user or a team): list, create, read, edit, delete."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import projects

from .. import schemas as s
from ..endpoint import Call, Endpoint

TAG = "projects"
VISIBILITY: dict[str, Any] = {"type": "string", "enum": ["private", "team", "open"]}
# Pagination of the lists that page (`?limit=&cursor=`), shared by the
# project-scoped lists of runs, reports and artifacts.
PAGE_QUERY: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "items per page (default 50)"),
    ("cursor", s.STR, "the `next_cursor` of the previous page"),
)


def closed(props: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body: the service refuses any field it does not list."""
    return {**s.body(props), "additionalProperties": False}


def list_projects(call: Call) -> list[dict[str, Any]]:
    return projects.list_projects(call.backend, call.me, call.params["entity"])


def create_project(call: Call) -> dict[str, Any]:
    body = call.json()
    return projects.create_project(
        call.backend,
        call.me,
        call.params["entity"],
        call.field(body, "name"),
        visibility=body.get("visibility"),
        description=body.get("description", ""),
    )


def get_project(call: Call) -> dict[str, Any]:
    return projects.get_project(
        call.backend, call.me, call.params["entity"], call.params["project"]
    )


def patch_project(call: Call) -> dict[str, Any]:
    return projects.patch_project(
        call.backend, call.me, call.params["entity"], call.params["project"], call.json()
    )


def delete_project(call: Call) -> None:
    projects.delete_project(call.backend, call.me, call.params["entity"], call.params["project"])


ROUTES = [
    Endpoint(
        "GET",
        "/projects/{entity}",
        list_projects,
        "Projects of a user or team that the caller may see",
        TAG,
        response=s.array(s.PROJECT),
    ),
    Endpoint(
        "POST",
        "/projects/{entity}",
        create_project,
        "Create a project (visibility defaults to `team`, `private` where the team forces it)",
        TAG,
        request=s.body(
            {"name": s.STR, "visibility": VISIBILITY, "description": s.STR}, required=["name"]
        ),
        response=s.PROJECT,
        status=201,
    ),
    Endpoint(
        "GET",
        "/projects/{entity}/{project}",
        get_project,
        "A project",
        TAG,
        response=s.PROJECT,
    ),
    Endpoint(
        "PATCH",
        "/projects/{entity}/{project}",
        patch_project,
        "Edit a project's overview: description, visibility",
        TAG,
        request=closed({"description": s.STR, "visibility": VISIBILITY}),
        response=s.PROJECT,
    ),
    Endpoint(
        "DELETE",
        "/projects/{entity}/{project}",
        delete_project,
        "Delete a project with its runs, reports and artifacts",
        TAG,
        status=204,
        long=True,
    ),
]
