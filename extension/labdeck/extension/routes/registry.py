"""A team's model registry: registered models, their versions and aliases."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import registry

from .. import schemas as s
from ..endpoint import Call, Endpoint, Raw

TAG = "registry"
ALIAS_BODY = s.body({"version": {"type": "integer", "minimum": 1}})


def _version(call: Call) -> Any:
    """`{"version": N}`, or no body (or no `version`) for the latest version."""
    return call.json().get("version")


def list_models(call: Call) -> list[dict[str, Any]]:
    return registry.list_models(call.backend, call.me, call.params["team"])


def create_model(call: Call) -> dict[str, Any]:
    body = call.json()
    return registry.create_model(
        call.backend, call.me, call.params["team"], call.field(body, "name")
    )


def get_model(call: Call) -> dict[str, Any]:
    return registry.get_model(call.backend, call.me, call.int_param("model_id"))


def link_model_version(call: Call) -> dict[str, Any]:
    body = call.json()
    return registry.link_version(
        call.backend, call.me, call.int_param("model_id"), call.field(body, "artifact_id")
    )


def put_model_alias(call: Call) -> dict[str, Any]:
    return registry.put_alias(
        call.backend, call.me, call.int_param("model_id"), call.params["alias"], _version(call)
    )


def delete_model_alias(call: Call) -> None:
    registry.delete_alias(call.backend, call.me, call.int_param("model_id"), call.params["alias"])


def put_protected_alias(call: Call) -> dict[str, Any]:
    return registry.put_protected_alias(
        call.backend, call.me, call.int_param("model_id"), call.params["alias"], _version(call)
    )


def delete_protected_alias(call: Call) -> None:
    registry.delete_protected_alias(
        call.backend, call.me, call.int_param("model_id"), call.params["alias"]
    )


def download_model_file(call: Call) -> Raw:
    version = call.arg("version") or "latest"
    data = registry.download_model(
        call.backend, call.me, call.int_param("model_id"), version, call.params["path"]
    )
    return Raw(data, "application/octet-stream", call.params["path"].rsplit("/", 1)[-1])


ROUTES = [
    Endpoint(
        "GET",
        "/registry/{model_id}/files/{path}",
        download_model_file,
        "Download a file of a model version ('download models', which view-only "
        "members may, unlike downloading the artifact itself)",
        "registry",
        query=(("version", {"type": "string"}, "a version number or an alias (default latest)"),),
        response=s.BINARY,
        response_type="application/octet-stream",
        long=True,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/registry",
        list_models,
        "Registered models of a team",
        TAG,
        response=s.array(s.REGISTERED_MODEL),
    ),
    Endpoint(
        "POST",
        "/teams/{team}/registry",
        create_model,
        "Register a model",
        TAG,
        request=s.body({"name": s.STR}, required=["name"]),
        response=s.REGISTERED_MODEL,
        status=201,
    ),
    Endpoint(
        "GET",
        "/registry/{model_id}",
        get_model,
        "A registered model with its versions and aliases",
        TAG,
        response=s.REGISTERED_MODEL,
    ),
    Endpoint(
        "POST",
        "/registry/{model_id}/versions",
        link_model_version,
        "Link an artifact version of one of the team's projects as the model's next version",
        TAG,
        request=s.body(
            {"artifact_id": {"type": "integer", "minimum": 1}}, required=["artifact_id"]
        ),
        response=s.REGISTERED_MODEL,
        status=201,
    ),
    Endpoint(
        "PUT",
        "/registry/{model_id}/aliases/{alias}",
        put_model_alias,
        "Point an alias at a version (no body: the latest)",
        TAG,
        request=ALIAS_BODY,
        response=s.REGISTERED_MODEL,
    ),
    Endpoint(
        "DELETE",
        "/registry/{model_id}/aliases/{alias}",
        delete_model_alias,
        "Remove an alias (a protected one needs a registry admin)",
        TAG,
        status=204,
    ),
    Endpoint(
        "PUT",
        "/registry/{model_id}/protected-aliases/{alias}",
        put_protected_alias,
        "Protect an alias and point it at a version (no body: the latest; registry admins)",
        TAG,
        request=ALIAS_BODY,
        response=s.REGISTERED_MODEL,
    ),
    Endpoint(
        "DELETE",
        "/registry/{model_id}/protected-aliases/{alias}",
        delete_protected_alias,
        "Lift an alias's protection (registry admins); one that points at a version stays",
        TAG,
        status=204,
    ),
]
