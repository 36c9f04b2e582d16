"""System settings of admin accounts: per-team and per-user
storage quotas ("configure system settings")."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import system

from .. import schemas as s
from ..endpoint import Call, Endpoint


def put_storage_quota(call: Call) -> dict[str, Any]:
    return system.set_storage_quota(
        call.backend,
        call.me,
        call.params["kind"],
        call.params["name"],
        call.field(call.json(), "quota_bytes"),
    )


ROUTES = [
    Endpoint(
        "PUT",
        "/system/storage-quotas/{kind}/{name}",
        put_storage_quota,
        "Set a team's or user's storage quota in bytes (null: the server default); "
        "admin accounts only",
        "system",
        request=s.body({"quota_bytes": {"type": ["integer", "null"]}}, ["quota_bytes"]),
        response=s.obj({"kind": s.STR, "name": s.STR, "quota_bytes": s.INT}),
    ),
]
