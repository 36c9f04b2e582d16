"""JSON schemas of the REST API's core shapes, used by the OpenAPI document.

They list the fields clients rely on as required and allow more: an answer
may carry more fields than its schema lists (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from labdeck.backend.roles import AccountType

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
NSTR: dict[str, Any] = {"type": ["string", "null"]}
ANYOBJ: dict[str, Any] = {"type": "object"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
NTIME: dict[str, Any] = {"type": ["string", "null"]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def body(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A request body: listed fields only, so fuzzers explore the real inputs."""
    return {
        "type": "object",
        "properties": props,
        "required": required or [],
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def page(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return obj({"items": array(items), "next_cursor": NSTR, **extra})


ERROR = obj({"error": STR, "message": STR}, {"field": STR})
OK = obj({})

PROFILE = obj(
    {
        "username": STR,
        "name": STR,
        "institution": STR,
        "bio": STR,
        "location": STR,
        "website": STR,
        "account_type": {"type": "string", "enum": [t.value for t in AccountType]},
        "avatar_url": NSTR,
    }
)
EMAIL = obj(
    {"id": INT, "address": STR, "primary": BOOL, "verified": BOOL, "login_methods": array(STR)}
)
# What an answer says of the mail it caused: on its way, or no SMTP configured.
MAIL_NOTE = obj({"queued": BOOL, "message": STR})
EMAIL_ADDED = {**EMAIL, "properties": {**EMAIL["properties"], "mail": MAIL_NOTE}}
API_KEY = obj({"id": INT, "prefix": STR, "created_at": STR, "last_used_at": NSTR}, {"name": STR})
API_KEY_CREATED = obj({"id": INT, "prefix": STR, "created_at": STR, "secret": STR}, {"name": STR})
TEAM = obj(
    {
        "name": STR,
        "type": {"type": "string", "enum": ["work", "academic"]},
        "organization": STR,
        "my_role": NSTR,
    }
)
MEMBER = obj(
    {
        "username": STR,
        "name": STR,
        "email": NSTR,
        "role": STR,
        "models_access": STR,
        "weave_access": STR,
    }
)
INVITATION = obj(
    {
        "id": INT,
        "team": STR,
        "email": STR,
        "role": STR,
        "invited_by": NSTR,
        "expires_at": STR,
        "state": {
            "type": "string",
            "enum": ["pending", "accepted", "declined", "cancelled", "expired"],
        },
    }
)
INVITATION_SENT = {**INVITATION, "properties": {**INVITATION["properties"], "mail": MAIL_NOTE}}
TEAM_ALERTS = obj(
    {
        "events": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": BOOL},
        },
        "email": STR,
        "slack_webhook_url": STR,
    }
)
TEAM_SETTINGS = obj(
    {"force_private": BOOL, "code_saving_default": BOOL, "alerts": TEAM_ALERTS, "storage_url": STR}
)
PROJECT = obj(
    {
        "entity": STR,
        "name": STR,
        "visibility": {"type": "string", "enum": ["private", "team", "open"]},
        "created_by": NSTR,
    }
)
RUN = obj(
    {
        "id": STR,
        "entity": STR,
        "project": STR,
        "name": STR,
        "state": {"type": "string", "enum": ["running", "finished", "crashed"]},
        "created_by": NSTR,
        "created_at": STR,
        "ended_at": NTIME,
        "heartbeat_at": STR,
        "config": ANYOBJ,
    },
    {"logged_by": NSTR, "notes": STR, "system": ANYOBJ},
)
SERIES = obj({"t": array(NUM), "v": array(NUM)})
METRICS_READ = obj(
    {"series": {"type": "object", "additionalProperties": SERIES}, "downsampled": BOOL}
)
METRICS_WRITE = body(
    {
        "samples": array(
            body(
                {"t": NUM, "values": {"type": "object", "additionalProperties": NUM}},
                ["t", "values"],
            )
        )
    },
    ["samples"],
)
REPORT = obj(
    {
        "id": INT,
        "title": STR,
        "body": STR,
        "created_by": NSTR,
        "followers": array(STR),
        "comments": array(ANYOBJ),
    }
)
ARTIFACT = obj(
    {
        "id": INT,
        "name": STR,
        "type": STR,
        "version": INT,
        "aliases": array(STR),
        "metadata": ANYOBJ,
        "size_bytes": INT,
        "created_by": NSTR,
    }
)
SERVICE_ACCOUNT = obj({"name": STR, "team": STR, "created_at": STR}, {"keys": array(API_KEY)})
SERVICE_ACCOUNT_CREATED = obj({"name": STR, "team": STR, "created_at": STR, "secret": STR})
REGISTERED_MODEL = obj(
    {
        "id": INT,
        "team": STR,
        "name": STR,
        "versions": array(ANYOBJ),
        "aliases": ANYOBJ,
        "protected_aliases": array(STR),
    }
)
STORAGE = obj({"used_bytes": INT, "quota_bytes": INT})

# --- account, orgs and teams area (routes/account.py, orgs.py, teams.py, members.py) ---

BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
CHANNELS_ON: dict[str, Any] = {"type": "object", "additionalProperties": BOOL}
BETA_FEATURE = obj({"name": STR, "description": STR, "enabled": BOOL})
ALERT_SETTINGS = obj(
    {
        "events": {"type": "object", "additionalProperties": CHANNELS_ON},
        "slack_webhook_url": STR,
    }
)
ALERT = obj(
    {
        "id": INT,
        "title": STR,
        "text": STR,
        "level": {"type": "string", "enum": ["INFO", "WARN", "ERROR"]},
        "suppressed": BOOL,
        "created_at": STR,
    }
)
GITHUB = obj({"connected": BOOL, "login": NSTR})
GITHUB_AUTHORIZE = obj({"authorize_url": STR})
ORG = obj({"name": STR, "created_at": STR, "my_role": NSTR})
CUSTOM_ROLE = obj(
    {
        "id": INT,
        "name": STR,
        "organization": STR,
        "base_role": STR,
        "permissions": array(STR),
        "created_at": STR,
    }
)
ORG_MEMBER = obj(
    {
        "username": STR,
        "name": STR,
        "email": NSTR,
        "admin": BOOL,
        "models_access": STR,
        "weave_access": STR,
    }
)
TEAM_DETAIL = obj(
    {
        **TEAM["properties"],
        "member_count": INT,
        "admin_count": INT,
        "only_one_admin": BOOL,
        "profile_public": BOOL,
    }
)
TEAM_PROFILE = obj(
    {
        "team": STR,
        "intro": STR,
        "visibility": {"type": "string", "enum": ["public", "members"]},
        "links": array(obj({"title": STR, "url": STR})),
        "showcased_projects": array(obj({"entity": STR, "name": STR, "visibility": STR})),
        "showcased_reports": array(obj({"id": INT, "title": STR, "entity": STR, "project": STR})),
    }
)
MEMBER_PAGE = page(MEMBER, invitations=array(INVITATION))
