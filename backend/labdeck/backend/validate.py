"""Field rules shared by services: each failure is an `Invalid` naming the field."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .errors import Invalid

NAME_RE = re.compile(r"^[a-z0-9_-]{3,64}$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EMAIL_RE = re.compile(
    r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Row ids are 32-bit on both engines: the largest one a client may name.
MAX_ROW_ID = 2**31 - 1


def is_row_id(value: Any) -> bool:
    """A row id as the database can hold it; anything else matches no row
    (a huge number must answer 404, not overflow the driver)."""
    return type(value) is int and 0 < value <= MAX_ROW_ID


def text(value: Any, field: str, *, max_len: int, min_len: int = 0, strip: bool = True) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text", field=field)
    if strip:
        value = value.strip()
    if "\x00" in value:
        raise Invalid(f"{field} must not contain NUL characters", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{field} must be valid Unicode text", field=field) from None
    if len(value) < min_len:
        raise Invalid(f"{field} must be at least {min_len} characters", field=field)
    if len(value) > max_len:
        raise Invalid(f"{field} must be at most {max_len} characters", field=field)
    return value


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{field} must be true or false", field=field)
    return value


def choice(value: Any, field: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise Invalid(f"{field} must be one of: {', '.join(options)}", field=field)
    return value


def team_name(value: Any, field: str = "name") -> str:
    """F-TM-1: 3–64 characters of a-z 0-9 - _ (compared case-insensitively)."""
    name = text(value, field, max_len=64, min_len=3).lower()
    if not NAME_RE.match(name):
        raise Invalid(f"{field} must be 3–64 characters of a-z, 0-9, '-' and '_'", field=field)
    return name


def username(value: Any, field: str = "username") -> str:
    name = text(value, field, max_len=64, min_len=1).lower()
    if not USERNAME_RE.match(name):
        raise Invalid(
            f"{field} must start with a letter or digit and hold only a-z, 0-9, '.', '-', '_'",
            field=field,
        )
    return name


def project_name(value: Any, field: str = "name") -> str:
    name = text(value, field, max_len=128, min_len=1)
    if not PROJECT_RE.match(name):
        raise Invalid(
            f"{field} must start with a letter or digit and hold only letters, digits, "
            "'.', '-', '_'",
            field=field,
        )
    return name


def alias(value: Any, field: str = "alias") -> str:
    name = text(value, field, max_len=128, min_len=1)
    if not ALIAS_RE.match(name):
        raise Invalid(f"{field} must hold only letters, digits, '.', '-', '_'", field=field)
    return name


def email(value: Any, field: str = "address") -> str:
    address = text(value, field, max_len=320, min_len=3).lower()
    if not EMAIL_RE.match(address):
        raise Invalid(f"{address!r} is not a valid email address", field=field)
    return address


def http_url(value: Any, field: str, *, allow_empty: bool = True) -> str:
    """http(s) only: a `javascript:` or `data:` link in a profile is an attack."""
    url = text(value, field, max_len=512)
    if not url and allow_empty:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(f"{field} must be an http:// or https:// link", field=field)
    return url


def json_object(value: Any, field: str, *, max_bytes: int = 64_000) -> dict[str, Any]:
    import json

    if not isinstance(value, Mapping):
        raise Invalid(f"{field} must be a JSON object", field=field)
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{field} must be plain JSON: {exc}", field=field) from None
    if len(encoded) > max_bytes:
        raise Invalid(f"{field} must be at most {max_bytes} bytes of JSON", field=field)
    # PostgreSQL's jsonb takes no NUL and no lone surrogate, in a key or a string.
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, str):
            text(item, field, max_len=len(item), strip=False)
    return dict(value)


def only_fields(changes: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse unknown fields instead of ignoring them: a typo must not look saved.
    A field that exists but may never change (a team's name) says so."""
    for key in changes:
        if key not in allowed:
            raise Invalid(f"{key!r} cannot be changed here", field=key)


def finite_number(value: Any, what: str, field: str) -> float:
    """A finite float from an int or float (a bool is refused here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Invalid(f"{what} must be a number", field=field)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise Invalid(f"{what} must be a finite number", field=field)
    return number
