"""Threshold rules (`/me/alert-rules`, `/teams/{team}/alert-rules`), the
marks they leave on a run's chart, and the admins' view of message
deliveries (`/system/deliveries`); see docs/alerts.md."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import alert_rules, alerts, deliveries

from .. import schemas as s
from ..endpoint import Call, Endpoint

_COMPARISON = {"type": "string", "enum": [">", ">=", "<", "<="]}
_CHANNELS = s.array({"type": "string", "enum": ["email", "slack"]})
_FIELDS = {
    "key_pattern": s.STR,
    "comparison": _COMPARISON,
    "value": s.NUM,
    "duration_s": s.NUM,
    "channels": _CHANNELS,
    "enabled": s.BOOL,
}
RULE = s.obj(
    {
        "id": s.INT,
        "team": s.NSTR,
        "key_pattern": s.STR,
        "comparison": s.STR,
        "value": s.NUM,
        "duration_s": s.NUM,
        "channels": s.array(s.STR),
        "enabled": s.BOOL,
        "created_at": s.STR,
    }
)
MARK = s.obj(
    {
        "id": s.INT,
        "rule_id": {"type": ["integer", "null"]},
        "key": s.STR,
        "kind": {"type": "string", "enum": ["breach", "recovery"]},
        "t": s.NUM,
        "value": s.NUM,
        "text": s.STR,
    }
)
DELIVERIES = s.obj(
    {
        "smtp_configured": s.BOOL,
        "deliveries": s.array(
            s.obj(
                {
                    "id": s.INT,
                    "channel": s.STR,
                    "recipient": s.STR,
                    "subject": s.STR,
                    "kind": s.STR,
                    "state": s.STR,
                    "attempts": s.INT,
                    "last_error": s.STR,
                    "created_at": s.STR,
                    "sent_at": s.NSTR,
                    "failed_at": s.NSTR,
                    "next_attempt_at": s.NSTR,
                }
            )
        ),
    }
)


def list_my_rules(call: Call) -> list[dict[str, Any]]:
    return alert_rules.list_my_rules(call.backend, call.me)


def create_my_rule(call: Call) -> dict[str, Any]:
    return alert_rules.create_my_rule(call.backend, call.me, call.json())


def patch_my_rule(call: Call) -> dict[str, Any]:
    return alert_rules.patch_my_rule(call.backend, call.me, call.int_param("id"), call.json())


def delete_my_rule(call: Call) -> None:
    alert_rules.delete_my_rule(call.backend, call.me, call.int_param("id"))


def list_team_rules(call: Call) -> list[dict[str, Any]]:
    return alert_rules.list_team_rules(call.backend, call.me, call.params["team"])


def create_team_rule(call: Call) -> dict[str, Any]:
    return alert_rules.create_team_rule(call.backend, call.me, call.params["team"], call.json())


def patch_team_rule(call: Call) -> dict[str, Any]:
    return alert_rules.patch_team_rule(
        call.backend, call.me, call.params["team"], call.int_param("id"), call.json()
    )


def delete_team_rule(call: Call) -> None:
    alert_rules.delete_team_rule(call.backend, call.me, call.params["team"], call.int_param("id"))


def list_alert_marks(call: Call) -> list[dict[str, Any]]:
    return alert_rules.list_alert_marks(call.backend, call.me, call.params["run_id"])


def raise_idle_alert(call: Call) -> dict[str, Any]:
    facts = alerts.idle_facts(call.json())
    return alerts.raise_idle_alert(call.backend, call.me, call.params["run_id"], **facts)


def list_deliveries(call: Call) -> dict[str, Any]:
    return deliveries.list_deliveries(
        call.backend, call.me, call.arg("state", "failed"), call.arg("limit")
    )


_RULE_BODY = s.body(_FIELDS, ["key_pattern", "comparison", "value"])
_RULE_PATCH = s.body(_FIELDS)

ROUTES = [
    Endpoint(
        "GET", "/me/alert-rules", list_my_rules, "My threshold rules", "me", response=s.array(RULE)
    ),
    Endpoint(
        "POST",
        "/me/alert-rules",
        create_my_rule,
        "Add a threshold rule over my runs (e.g. gpu.*.temp > 85 for 60 s)",
        "me",
        request=_RULE_BODY,
        response=RULE,
        status=201,
    ),
    Endpoint(
        "PATCH",
        "/me/alert-rules/{id}",
        patch_my_rule,
        "Change one of my threshold rules",
        "me",
        request=_RULE_PATCH,
        response=RULE,
    ),
    Endpoint(
        "DELETE",
        "/me/alert-rules/{id}",
        delete_my_rule,
        "Delete one of my threshold rules",
        "me",
        status=204,
    ),
    Endpoint(
        "GET",
        "/teams/{team}/alert-rules",
        list_team_rules,
        "The team's threshold rules",
        "teams",
        response=s.array(RULE),
    ),
    Endpoint(
        "POST",
        "/teams/{team}/alert-rules",
        create_team_rule,
        "Add a threshold rule over the team's runs (team admins)",
        "teams",
        request=_RULE_BODY,
        response=RULE,
        status=201,
    ),
    Endpoint(
        "PATCH",
        "/teams/{team}/alert-rules/{id}",
        patch_team_rule,
        "Change a team threshold rule (team admins)",
        "teams",
        request=_RULE_PATCH,
        response=RULE,
    ),
    Endpoint(
        "DELETE",
        "/teams/{team}/alert-rules/{id}",
        delete_team_rule,
        "Delete a team threshold rule (team admins)",
        "teams",
        status=204,
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/alert-marks",
        list_alert_marks,
        "Threshold breaches and recoveries on a run, by time (marks on its chart)",
        "runs",
        response=s.array(MARK),
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/idle-alert",
        raise_idle_alert,
        "The run's kernel has run no cell for idle_s seconds while holding resources "
        "(F-SM-13): the idle alert to the creator's and the team's channels",
        "runs",
        request=s.body(
            {
                "idle_s": s.NUM,
                "notebook": s.STR,
                "kernel_id": s.STR,
                "gpu_memory_bytes": s.NUM,
                "gpu_util_percent": {"type": ["number", "null"]},
                "cpu_percent": {"type": ["number", "null"]},
            },
            ["idle_s"],
        ),
        response=s.obj({"run_id": s.STR, "event": s.STR, "text": s.STR}),
        status=201,
    ),
    Endpoint(
        "GET",
        "/system/deliveries",
        list_deliveries,
        "Messages (mail, Slack) by delivery state, newest first, with why they failed; "
        "admin accounts only",
        "system",
        query=(
            ("state", s.STR, "failed (default), retrying, pending, sent or all"),
            ("limit", s.INT, "at most this many (default 50, at most 500)"),
        ),
        response=DELIVERIES,
    ),
]
