"""Artifacts of a project: versioned sets of files with aliases and metadata."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from labdeck.backend.errors import Invalid, Malformed
from labdeck.backend.services import artifacts

from .. import schemas as s
from ..endpoint import Call, Endpoint, Raw
from .projects import PAGE_QUERY, closed

TAG = "artifacts"
MULTIPART = "multipart/form-data"
ARTIFACT_FILE = s.obj({"path": s.STR, "size_bytes": s.INT, "sha256": s.STR})
ARTIFACT_DETAIL = {
    **s.ARTIFACT,
    "properties": {**s.ARTIFACT["properties"], "files": s.array(ARTIFACT_FILE)},
    "required": [*s.ARTIFACT["required"], "files"],
}
UPLOAD = {
    "type": "object",
    "properties": {
        "meta": {
            "type": "string",
            "description": 'JSON text: {"name", "type", "metadata"}',
        },
        "file": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "the files; each part's filename is its path in the artifact",
        },
    },
    "required": ["meta", "file"],
}


def _meta(call: Call) -> Any:
    """The `meta` part: a plain form field, or a part sent with a filename."""
    if call.form.get("meta"):
        raw = call.form["meta"][0]
    elif call.files.get("meta"):
        raw = call.files["meta"][0].body
    else:
        raise Invalid("a meta part (JSON text) is required", field="meta")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("the meta part must be JSON text", field="meta") from None


def _files(call: Call) -> list[tuple[str, bytes]]:
    if call.form.get("file"):
        raise Invalid("each file part needs a filename: its path in the artifact", field="file")
    return [(part.filename, part.body) for part in call.files.get("file", [])]


def list_artifacts(call: Call) -> dict[str, Any]:
    return artifacts.list_artifacts(
        call.backend,
        call.me,
        call.params["entity"],
        call.params["project"],
        limit=call.arg("limit"),
        cursor=call.arg("cursor"),
    )


def create_artifact(call: Call) -> dict[str, Any]:
    if not call.content_type.lower().startswith(MULTIPART):
        raise Malformed("send the artifact as multipart/form-data with meta and file parts")
    return artifacts.create_artifact(
        call.backend,
        call.me,
        call.params["entity"],
        call.params["project"],
        _meta(call),
        _files(call),
    )


def get_artifact(call: Call) -> dict[str, Any]:
    return artifacts.get_artifact(call.backend, call.me, call.int_param("id"))


def patch_artifact(call: Call) -> dict[str, Any]:
    return artifacts.patch_artifact(call.backend, call.me, call.int_param("id"), call.json())


def delete_artifact(call: Call) -> None:
    artifacts.delete_artifact(call.backend, call.me, call.int_param("id"))


def put_artifact_alias(call: Call) -> dict[str, Any]:
    return artifacts.put_alias(call.backend, call.me, call.int_param("id"), call.params["alias"])


def delete_artifact_alias(call: Call) -> None:
    artifacts.delete_alias(call.backend, call.me, call.int_param("id"), call.params["alias"])


def download_artifact_file(call: Call) -> Raw:
    path = call.params["path"]
    data = artifacts.download_file(call.backend, call.me, call.int_param("id"), path)
    return Raw(data, "application/octet-stream", posixpath.basename(path))


ROUTES = [
    Endpoint(
        "GET",
        "/projects/{entity}/{project}/artifacts",
        list_artifacts,
        "Artifact versions of a project, newest first (paginated; files: GET /artifacts/{id})",
        TAG,
        response=s.page(s.ARTIFACT),
        query=PAGE_QUERY,
    ),
    Endpoint(
        "POST",
        "/projects/{entity}/{project}/artifacts",
        create_artifact,
        "Upload the next version of an artifact (`latest` moves to it)",
        TAG,
        request=UPLOAD,
        request_type=MULTIPART,
        response=ARTIFACT_DETAIL,
        status=201,
        long=True,
    ),
    Endpoint(
        "GET",
        "/artifacts/{id}",
        get_artifact,
        "An artifact version with its files",
        TAG,
        response=ARTIFACT_DETAIL,
    ),
    Endpoint(
        "PATCH",
        "/artifacts/{id}",
        patch_artifact,
        "Replace an artifact version's metadata",
        TAG,
        request=closed({"metadata": s.ANYOBJ}),
        response=ARTIFACT_DETAIL,
    ),
    Endpoint(
        "DELETE",
        "/artifacts/{id}",
        delete_artifact,
        "Delete an artifact version and its files",
        TAG,
        status=204,
        long=True,
    ),
    Endpoint(
        "PUT",
        "/artifacts/{id}/aliases/{alias}",
        put_artifact_alias,
        "Point an alias at this version (moving it from another version)",
        TAG,
        response=ARTIFACT_DETAIL,
    ),
    Endpoint(
        "DELETE",
        "/artifacts/{id}/aliases/{alias}",
        delete_artifact_alias,
        "Remove an alias from this version",
        TAG,
        status=204,
    ),
    Endpoint(
        "GET",
        "/artifacts/{id}/files/{path}",
        download_artifact_file,
        "Download one file of an artifact version (the path may hold slashes)",
        TAG,
        response={"type": "string", "format": "binary"},
        response_type="application/octet-stream",
        long=True,
    ),
]
