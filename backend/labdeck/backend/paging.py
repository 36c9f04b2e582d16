"""Keyset pagination shared by every list: `limit` plus an opaque `cursor`.

A cursor is the sort key of the last item served, base64-encoded JSON, so a
page costs one indexed query however deep it is, and rows added meanwhile
never shift a page.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .errors import Invalid
from .validate import is_row_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    limit: int
    after: Any | None

    @classmethod
    def parse(cls, limit: Any = None, cursor: Any = None) -> Page:
        if limit is None or limit == "":
            size = DEFAULT_LIMIT
        else:
            try:
                size = int(limit)
            except (TypeError, ValueError):
                raise Invalid("limit must be a whole number", field="limit") from None
            if not 1 <= size <= MAX_LIMIT:
                raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        after = None
        if cursor:
            try:
                after = json.loads(base64.urlsafe_b64decode(str(cursor).encode()).decode())
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise Invalid("cursor is not one this server gave out", field="cursor") from None
        return cls(size, after)

    def after_id(self) -> int | None:
        """The cursor of a list keyed by row id: a positive id in the integer
        range the databases store, else this server never gave it out."""
        if self.after is None:
            return None
        if not is_row_id(self.after):
            raise Invalid("cursor is not one this server gave out", field="cursor")
        return self.after


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def page_result(
    items: list[dict[str, Any]], rows: list[Any], page: Page, key: Any
) -> dict[str, Any]:
    """`rows` were fetched with limit+1: the extra one only says a next page exists.
    `key(row)` gives the cursor value of a row."""
    has_more = len(rows) > page.limit
    return {
        "items": items[: page.limit],
        "next_cursor": encode_cursor(key(rows[page.limit - 1])) if has_more else None,
    }
