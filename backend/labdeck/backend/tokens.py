"""Secrets: generated with `secrets`, stored only as SHA-256 hashes.

API keys and links are high-entropy random values, so a fast hash is the
right tool (a password hash would only slow every authenticated request).
"""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "ldk_"


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """(secret, public prefix, hash). The prefix identifies a key in lists."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(30)
    return secret, secret[: len(API_KEY_PREFIX) + 6], digest(secret)
