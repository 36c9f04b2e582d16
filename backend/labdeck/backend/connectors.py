"""Which storage locations a team's connector may name (F-TS-6).

The server itself writes to a connector (the check when it is saved, then
every artifact), so a connector URL is a request for the server to dial
somewhere: the operator bounds it. A URL is allowed only when

- its scheme is one of `Settings.storage_schemes` (default: file, s3, gs,
  gcs, az), given plainly: no fsspec chaining (`simplecache::…`), no query,
  no user name or password;
- for the object stores (s3, gs, gcs, az), its host part is a bucket or
  container name, never a host or a port;
- for `file`, it names a folder below one of `Settings.storage_roots`, once
  `..` and symbolic links are resolved; nothing outside them is touched,
  or created.

A refusal says which rule failed and never repeats a local path or what a
remote host answered: the setting must not be a way to scan the server's
files or network. This module only reads the URL; `storage.check_writable`
then proves the location works.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .config import Settings
from .errors import Invalid

MAX_URL = 1024
# Schemes whose host part is a bucket (or container) name, not a host.
BUCKET_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_HOST = re.compile(r"^[a-z0-9.-]{1,253}(:[0-9]{1,5})?$")


def _refuse(field: str, why: str) -> Invalid:
    return Invalid(f"{field}: {why}", field=field)


def _below_a_root(settings: Settings, path: str, field: str) -> str:
    """The real path of `path` when it lies below one of the operator's roots."""
    if not path.startswith("/") or "\x00" in path:
        raise _refuse(field, "a file:// connector needs an absolute folder path")
    real = os.path.realpath(path)
    for root in settings.storage_roots:
        base = os.path.realpath(root)
        if real != base and os.path.commonpath([real, base]) == base:
            return real
    raise _refuse(
        field,
        "a file:// connector must name a folder below one of the folders the server's "
        "operator set aside for team storage (storage_roots)",
    )


def allowed(settings: Settings, url: object, field: str = "storage_url") -> str:
    """`url` as the connector to store (normalized), or `Invalid` saying which rule it breaks."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL or not url.isprintable():
        raise _refuse(field, "must be an fsspec URL such as s3://bucket/path")
    if "::" in url:
        raise _refuse(field, "chained fsspec URLs (with '::') are not allowed")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if "://" not in url or not scheme:
        raise _refuse(field, "must be an fsspec URL such as s3://bucket/path")
    if scheme not in settings.storage_schemes:
        schemes = ", ".join(sorted(settings.storage_schemes)) or "none"
        raise _refuse(
            field, f"this server does not allow {scheme}:// connectors (allowed: {schemes})"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise _refuse(field, "a connector URL has no query, fragment, user name or password")
    path = unquote(parts.path)
    if any(segment == ".." for segment in path.split("/")):
        raise _refuse(field, "a connector path may not contain '..'")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _refuse(field, "a file:// connector names a folder on this server, not a host")
        return Path(_below_a_root(settings, path, field)).as_uri()
    host = parts.netloc.lower()
    if scheme in BUCKET_SCHEMES:
        if not _BUCKET.match(host):
            raise _refuse(field, f"{scheme}:// needs a bucket name, not a host or a port")
    elif not _HOST.match(host):
        raise _refuse(field, "the host part of the connector URL is not a host name")
    return f"{scheme}://{host}{path.rstrip('/')}"
