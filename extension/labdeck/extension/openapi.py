"""The OpenAPI 3.1 document, built from the route table (never by hand)."""

from __future__ import annotations

from typing import Any

from . import schemas
from .endpoint import AUTH_PUBLIC, Endpoint
from .handlers import API_PREFIX

_ERRORS = {
    "400": "malformed request",
    "401": "no identity, or a bad API key",
    "403": "not allowed: the message names the permission",
    "404": "not found, or not visible to the caller",
    "409": "conflict with the current state",
    "413": "too large",
    "422": "invalid field",
    "429": "too many of these requests lately; Retry-After says when to try again",
    "503": "the database is down, locked or full; Retry-After says when to try again",
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
            for name in endpoint.params
        ]
        + [
            {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
            for name, schema, text in endpoint.query
        ],
        "responses": {},
    }
    if endpoint.auth == AUTH_PUBLIC:
        op["security"] = []
    if endpoint.request is not None:
        op["requestBody"] = {
            # A body whose fields are all optional may be left out entirely.
            "required": bool(endpoint.request.get("required")),
            "content": {endpoint.request_type: {"schema": endpoint.request}},
        }
    ok: dict[str, Any] = {"description": "success"}
    if endpoint.status != 204 and endpoint.response is not None:
        ok["content"] = {endpoint.response_type: {"schema": endpoint.response}}
    op["responses"][str(endpoint.status)] = ok
    for code, text in _ERRORS.items():
        op["responses"][code] = {
            "description": text,
            "content": {"application/json": {"schema": schemas.ERROR}},
        }
    return op


def document(routes: list[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in routes:
        paths.setdefault(API_PREFIX + endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "labdeck REST API",
            "version": "1",
            "description": "Team workspace and hardware monitoring for JupyterLab.",
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "labdeck API key"},
                "jupyter": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Jupyter token (`token <t>`) or browser session",
                },
            }
        },
        "security": [{"apiKey": []}, {"jupyter": []}],
        "paths": paths,
    }
