"""Slack by incoming webhook: one JSON POST per message.

A 4xx answer other than 408/429 is Slack saying the webhook is gone or the
payload is wrong (`no_service`, `invalid_token`, `channel_is_archived`):
retrying cannot help, so it is permanent. Anything else (5xx, a timeout, a
refused connection) is retried with backoff.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .mail import Permanent
from .outbox import Claimed

_RETRYABLE_4XX = (408, 429)


def _escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(row: Claimed) -> dict[str, str]:
    """`text` with the subject in bold on its first line; `subject`, `body`
    and `kind` as sent, for webhooks that route on them (Slack ignores them)."""
    return {
        "text": f"*{_escape(row.subject)}*\n{_escape(row.body)}",
        "subject": row.subject,
        "body": row.body,
        "kind": row.kind,
    }


def post(row: Claimed, timeout: float) -> None:
    """Raises `Permanent` or another exception when the message did not arrive."""
    url = row.recipient
    if not url.startswith(("https://", "http://")):
        raise Permanent("the Slack webhook is not an http(s) URL")
    data = json.dumps(payload(row)).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        reason = f"the Slack webhook answered {exc.code}: {detail or exc.reason}"
        if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
            raise Permanent(reason) from exc
        raise RuntimeError(reason) from exc
