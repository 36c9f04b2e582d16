"""External names (who an identity provider says someone is) and the URL
handles derived from them (F-ID-1: two different names never one account).

An external name — a JupyterHub user name, the OS account of a single-user
server, a custom Jupyter identity provider's user name — is kept as given,
only NFC-normalised, so `josé`, `日本`, `δ` and `o'brien@uni.edu` stay what
they are. Two names are the same person when their `key`s are equal: the
NFC form of the casefolded name, so `Alice` and `alice`, or `STRASSE` and
`straße`, are one identity (as JupyterHub itself, which lower-cases names,
sees them), and nothing else is merged.

The handle (`users.username`, the `{entity}` of REST paths) must be URL-safe
ASCII, so it is only *derived* from the name (`derive_handle`): accents are
dropped, anything else becomes '-'. Handles may coincide (`alice!` and
`alice` both derive `alice`), which is why an account is found by its key,
never by its handle, and a handle already taken gets a suffix
(`services.identity`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .errors import Invalid

# users.external_name / external_key hold at most this many characters.
MAX_EXTERNAL = 255
HANDLE_MAX = 64
# Tombstones of deleted accounts are named so (services/account.py); no live
# handle may look like one.
RESERVED_PREFIX = "deleted-user-"
FALLBACK_HANDLE = "user"

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_EDGES = "-._"


def external_name(raw: object, field: str = "username") -> str:
    """A name as an identity provider gave it, NFC-normalised. Empty names,
    control characters and over-long names are refused: no provider
    proves such a name, so it must not become an account."""
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be text", field=field)
    name = unicodedata.normalize("NFC", raw)
    if not name.strip():
        raise Invalid(f"{field} must not be empty", field=field)
    if len(name) > MAX_EXTERNAL:
        raise Invalid(f"{field} must be at most {MAX_EXTERNAL} characters", field=field)
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise Invalid(f"{field} must not contain control characters", field=field)
    return name


def key(name: str) -> str:
    """What two names are compared by: casefolded, NFC on both sides of the
    fold (casefolding can leave a decomposed string)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def keys(names: Iterable[str]) -> frozenset[str]:
    """`key` of each non-blank name, spaces around it dropped (the
    `admin_users` setting, written by an operator)."""
    return frozenset(key(name.strip()) for name in names if name.strip())


def derive_handle(name: str) -> str:
    """The URL-safe handle a name asks for: accents dropped (`josé` → `jose`),
    lower case, every other run of characters outside a-z 0-9 . _ - as one
    '-', at most 64 characters; `user` when nothing is left (`日本`, `δ`)."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    handle = _UNSAFE.sub("-", ascii_only.lower()).strip(_EDGES)[:HANDLE_MAX].strip(_EDGES)
    if not handle:
        return FALLBACK_HANDLE
    if handle.startswith(RESERVED_PREFIX):
        handle = f"{FALLBACK_HANDLE}-{handle}"[:HANDLE_MAX].strip(_EDGES)
    return handle


def with_suffix(handle: str, n: int) -> str:
    """The n-th candidate for a handle: itself, then `handle-2`, `handle-3`…,
    cut so the whole stays within 64 characters."""
    if n <= 1:
        return handle
    suffix = f"-{n}"
    return handle[: HANDLE_MAX - len(suffix)].rstrip(_EDGES) + suffix
