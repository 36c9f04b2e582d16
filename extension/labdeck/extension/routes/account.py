"""/me: the caller's own account (profile, image, settings, emails, API keys,
GitHub, storage, export), plus the two public links that an email and GitHub
send the browser to, and custom alerts from code."""

from __future__ import annotations

from typing import Any

from labdeck.backend.alerting import LEVELS
from labdeck.backend.errors import Invalid, Unauthenticated
from labdeck.backend.services import (
    account,
    alert_settings,
    alerts,
    apikeys,
    beta_features,
    emails,
    export,
    github,
    profile,
    usage,
)

from .. import schemas as s
from ..endpoint import AUTH_PUBLIC, Call, Endpoint, Raw

PNG = "image/png"


# -- profile and image ---------------------------------------------------------


def get_me(call: Call) -> dict[str, Any]:
    return profile.get_profile(call.backend, call.me)


def update_me(call: Call) -> dict[str, Any]:
    return profile.update_profile(call.backend, call.me, call.json())


def set_my_avatar(call: Call) -> dict[str, Any]:
    return profile.set_avatar(call.backend, call.me, call.body_bytes)


def delete_my_avatar(call: Call) -> None:
    profile.delete_avatar(call.backend, call.me)


def get_user_avatar(call: Call) -> Raw:
    return Raw(profile.get_avatar(call.backend, call.me, call.params["username"]), PNG)


def delete_me(call: Call) -> None:
    account.delete_account(call.backend, call.me, call.field(call.json(), "confirm"))


# -- settings ------------------------------------------------------------------


def list_beta_features(call: Call) -> list[dict[str, Any]]:
    return beta_features.list_beta_features(call.backend, call.me)


def set_beta_features(call: Call) -> list[dict[str, Any]]:
    return beta_features.set_beta_features(call.backend, call.me, call.json())


def get_my_alerts(call: Call) -> dict[str, Any]:
    return alert_settings.get_alert_settings(call.backend, call.me)


def put_my_alerts(call: Call) -> dict[str, Any]:
    return alert_settings.put_alert_settings(call.backend, call.me, call.json())


def get_my_storage(call: Call) -> dict[str, Any]:
    return usage.get_user_storage(call.backend, call.me)


def export_me(call: Call) -> Raw:
    return Raw(export.export_user(call.backend, call.me), "application/zip", "labdeck-account.zip")


def send_alert(call: Call) -> dict[str, Any]:
    body = call.json()
    optional = {
        name: body[name] for name in ("text", "level", "wait_duration", "run_id") if name in body
    }
    return alerts.send_alert(call.backend, call.me, call.field(body, "title"), **optional)


# -- emails --------------------------------------------------------------------


def list_emails(call: Call) -> list[dict[str, Any]]:
    return emails.list_emails(call.backend, call.me)


def add_email(call: Call) -> dict[str, Any]:
    return emails.add_email(call.backend, call.me, call.field(call.json(), "address"))


def delete_email(call: Call) -> None:
    emails.delete_email(call.backend, call.me, call.int_param("email_id"))


def make_email_primary(call: Call) -> list[dict[str, Any]]:
    return emails.make_primary(call.backend, call.me, call.int_param("email_id"))


def resend_verification(call: Call) -> dict[str, Any]:
    return emails.resend_verification(call.backend, call.me, call.int_param("email_id"))


def verify_email(call: Call) -> dict[str, Any]:
    """Public: the link's token is the proof. Answers the verified address as
    JSON (the lab shows the email list; a browser shows the result)."""
    token = call.arg("token")
    if token is None:
        raise Invalid("token is required", field="token")
    return emails.verify_email(call.backend, token)


# -- API keys ------------------------------------------------------------------


def list_api_keys(call: Call) -> list[dict[str, Any]]:
    return apikeys.list_keys(call.backend, call.me)


def create_api_key(call: Call) -> dict[str, Any]:
    body = call.json()
    return apikeys.create_key(call.backend, call.me, body.get("name", ""))


def revoke_api_key(call: Call) -> None:
    apikeys.revoke_key(call.backend, call.me, call.int_param("key_id"))


# -- GitHub --------------------------------------------------------------------


def get_my_github(call: Call) -> dict[str, Any]:
    return github.get_github(call.backend, call.me)


def connect_github(call: Call) -> dict[str, str]:
    return github.start_connect(call.backend, call.me)


def github_callback(call: Call) -> dict[str, Any]:
    """Public (GitHub redirects the browser here), but the service ties the
    `state` to the account that started the flow, so the caller must still
    be known: by an API key, or by the Jupyter identity where the handler
    provides one."""
    if call.actor is None:
        raise Unauthenticated("sign in to the lab in this browser, then connect GitHub again")
    code, state = call.arg("code"), call.arg("state")
    if code is None:
        raise Invalid("code is required", field="code")
    if state is None:
        raise Invalid("state is required", field="state")
    return github.complete_connect(call.backend, call.actor, code, state)


def disconnect_github(call: Call) -> None:
    github.disconnect(call.backend, call.me)


_EDITABLE = {name: s.STR for name in profile.EDITABLE}
_PARAM = {"type": "string"}

ROUTES = [
    Endpoint("GET", "/me", get_me, "My profile and account type", "me", response=s.PROFILE),
    Endpoint(
        "PATCH",
        "/me",
        update_me,
        "Change my profile (all fields or none)",
        "me",
        request=s.body(_EDITABLE),
        response=s.PROFILE,
    ),
    Endpoint(
        "DELETE",
        "/me",
        delete_me,
        "Delete my account (confirm with my user name)",
        "me",
        request=s.body({"confirm": s.STR}, ["confirm"]),
        status=204,
        long=True,
    ),
    Endpoint(
        "PUT",
        "/me/avatar",
        set_my_avatar,
        "Set my profile image (body: the image bytes)",
        "me",
        request=s.BINARY,
        request_type="application/octet-stream",
        response=s.PROFILE,
    ),
    Endpoint("DELETE", "/me/avatar", delete_my_avatar, "Remove my profile image", "me", status=204),
    Endpoint(
        "GET",
        "/users/{username}/avatar",
        get_user_avatar,
        "A user's profile image (PNG)",
        "me",
        response=s.BINARY,
        response_type=PNG,
    ),
    Endpoint(
        "GET",
        "/me/beta-features",
        list_beta_features,
        "Beta features and whether I turned them on",
        "me",
        response=s.array(s.BETA_FEATURE),
    ),
    Endpoint(
        "PATCH",
        "/me/beta-features",
        set_beta_features,
        "Turn beta features on or off (beta feature name → true/false)",
        "me",
        request=s.body({name: s.BOOL for name in beta_features.BETA_FEATURES}),
        response=s.array(s.BETA_FEATURE),
    ),
    Endpoint(
        "GET",
        "/me/alerts",
        get_my_alerts,
        "My alert settings: event × channel, Slack webhook",
        "me",
        response=s.ALERT_SETTINGS,
    ),
    Endpoint(
        "PUT",
        "/me/alerts",
        put_my_alerts,
        "Change my alert settings (what the body leaves out keeps its state)",
        "me",
        request=s.body(
            {
                "events": {"type": "object", "additionalProperties": s.CHANNELS_ON},
                "slack_webhook_url": s.STR,
            }
        ),
        response=s.ALERT_SETTINGS,
    ),
    Endpoint(
        "GET", "/me/storage", get_my_storage, "My storage used and quota", "me", response=s.STORAGE
    ),
    Endpoint(
        "GET",
        "/me/export",
        export_me,
        "Export my account and personal projects (zip)",
        "me",
        response=s.BINARY,
        response_type="application/zip",
        long=True,
    ),
    Endpoint(
        "POST",
        "/alerts",
        send_alert,
        "Send a custom alert to my channels (repeats within wait_duration are suppressed)",
        "me",
        request=s.body(
            {
                "title": s.STR,
                "text": s.STR,
                # The service also takes these in any case ("warn").
                "level": {"type": "string", "enum": list(LEVELS)},
                "wait_duration": s.NUM,
                "run_id": s.STR,
            },
            ["title"],
        ),
        response=s.ALERT,
        status=201,
    ),
    Endpoint(
        "GET", "/me/emails", list_emails, "My email addresses", "me", response=s.array(s.EMAIL)
    ),
    Endpoint(
        "POST",
        "/me/emails",
        add_email,
        "Add an email address (a verification link is sent)",
        "me",
        request=s.body({"address": s.STR}, ["address"]),
        response=s.EMAIL_ADDED,
        status=201,
    ),
    Endpoint(
        "DELETE",
        "/me/emails/{email_id}",
        delete_email,
        "Remove an email address (not the primary one)",
        "me",
        status=204,
    ),
    Endpoint(
        "POST",
        "/me/emails/{email_id}/primary",
        make_email_primary,
        "Make a verified address my primary one; answers every address",
        "me",
        response=s.array(s.EMAIL),
    ),
    Endpoint(
        "POST",
        "/me/emails/{email_id}/resend",
        resend_verification,
        "Send a fresh verification link (earlier ones stop working)",
        "me",
        response=s.EMAIL_ADDED,
    ),
    Endpoint(
        "GET",
        "/emails/verify",
        verify_email,
        "Open an email verification link; answers the verified address",
        "me",
        query=(("token", _PARAM, "the token of the emailed link"),),
        response=s.EMAIL,
        auth=AUTH_PUBLIC,
    ),
    Endpoint(
        "GET",
        "/me/api-keys",
        list_api_keys,
        "My API keys (prefix only)",
        "me",
        response=s.array(s.API_KEY),
    ),
    Endpoint(
        "POST",
        "/me/api-keys",
        create_api_key,
        "Create an API key; the secret is shown once",
        "me",
        request=s.body({"name": s.STR}),
        response=s.API_KEY_CREATED,
        status=201,
    ),
    Endpoint(
        "DELETE", "/me/api-keys/{key_id}", revoke_api_key, "Revoke an API key", "me", status=204
    ),
    Endpoint(
        "GET",
        "/me/github",
        get_my_github,
        "Whether GitHub is connected, and as whom",
        "me",
        response=s.GITHUB,
    ),
    Endpoint(
        "POST",
        "/me/github/connect",
        connect_github,
        "Start connecting GitHub: the URL to send the browser to",
        "me",
        response=s.GITHUB_AUTHORIZE,
    ),
    Endpoint(
        "GET",
        "/github/callback",
        github_callback,
        "GitHub's OAuth redirect: finishes connecting the account that started it",
        "me",
        query=(
            ("code", _PARAM, "GitHub's authorization code"),
            ("state", _PARAM, "the state of the authorize URL"),
        ),
        response=s.GITHUB,
        auth=AUTH_PUBLIC,
    ),
    Endpoint(
        "DELETE", "/me/github", disconnect_github, "Forget my GitHub connection", "me", status=204
    ),
]
