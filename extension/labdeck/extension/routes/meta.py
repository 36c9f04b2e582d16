"""The machine-readable contract."""

from __future__ import annotations

from typing import Any

from .. import schemas
from ..endpoint import AUTH_PUBLIC, Call, Endpoint


def get_openapi(call: Call) -> dict[str, Any]:
    from .. import openapi
    from . import ROUTES

    return openapi.document(ROUTES)


ROUTES = [
    Endpoint(
        "GET",
        "/openapi.json",
        get_openapi,
        "This contract, machine-readable",
        "meta",
        response=schemas.ANYOBJ,
        auth=AUTH_PUBLIC,
    ),
]
