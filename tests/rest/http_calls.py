"""Raw calls with an API key, for tests that need an answer's headers and
timing (the `Api` client of conftest returns the status and body only)."""

from __future__ import annotations

import json
from typing import Any

from tornado.httpclient import HTTPResponse


async def call(jp_fetch: Any, key: str, method: str, path: str, body: Any = None) -> HTTPResponse:
    """`body`: bytes as they are, anything else JSON-encoded."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body)
    response: HTTPResponse = await jp_fetch(
        "labdeck",
        "api",
        *path.strip("/").split("/"),
        method=method,
        body=data,
        headers={"Authorization": f"Bearer {key}"},
        raise_error=False,
        request_timeout=600,
    )
    return response


def answer(response: HTTPResponse) -> Any:
    return json.loads(response.body or b"{}")
