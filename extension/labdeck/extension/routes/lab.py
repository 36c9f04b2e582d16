"""What the JupyterLab panel and status bar read beyond the core API (F-UI-3, F-UI-8).

The panel shows only the controls a user may use, so it asks the server
what the permission table grants (`/me/permissions`,
`/teams/{team}/permissions`) instead of deciding itself; the status bar
asks which run the current notebook's kernel records, with the newest value
of each metric (`/me/kernels/{kernel_id}/run`).
"""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import capabilities, kernel_runs

from .. import schemas as s
from ..endpoint import Call, Endpoint

TAG = "lab"
ACTIONS = s.array(s.STR)
ACCOUNT_PERMISSIONS = s.obj({"actions": ACTIONS})
TEAM_PERMISSIONS = s.obj(
    {
        "team": s.STR,
        "actions": ACTIONS,
        "organization": s.STR,
        "organization_admin": s.BOOL,
        "custom_role_actions": ACTIONS,
    }
)
KERNEL_RUN = s.obj(
    {
        "run": {"anyOf": [s.RUN, {"type": "null"}]},
        "latest": {"type": "object", "additionalProperties": s.NUM},
        "latest_t": {"type": ["number", "null"]},
    }
)


def my_permissions(call: Call) -> dict[str, Any]:
    return capabilities.account_permissions(call.backend, call.me)


def my_team_permissions(call: Call) -> dict[str, Any]:
    return capabilities.team_permissions(call.backend, call.me, call.params["team"])


def my_kernel_run(call: Call) -> dict[str, Any]:
    return kernel_runs.kernel_run(call.backend, call.me, call.params["kernel_id"])


ROUTES = [
    Endpoint(
        "GET",
        "/me/permissions",
        my_permissions,
        "The system actions of the permission table my account may take",
        TAG,
        response=ACCOUNT_PERMISSIONS,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/permissions",
        my_team_permissions,
        "The team actions of the permission table my role grants, and whether I "
        "administer the team's organization",
        TAG,
        response=TEAM_PERMISSIONS,
    ),
    Endpoint(
        "GET",
        "/me/kernels/{kernel_id}/run",
        my_kernel_run,
        "My running run recorded by this Jupyter kernel (or null), with the newest "
        "value of each of its metrics",
        TAG,
        response=KERNEL_RUN,
    ),
]
