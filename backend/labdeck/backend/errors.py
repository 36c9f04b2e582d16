"""Typed errors raised by services; each layer above maps them to its own idiom.

A service never returns a half-done result: it raises one of these, the
transaction rolls back, and the REST layer turns the kind into an HTTP status.
"""

from __future__ import annotations


class LabdeckError(Exception):
    """Base error: `kind` is the machine name, `message` is for a person."""

    kind = "error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.kind, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class Malformed(LabdeckError):
    """The request could not be understood at all (bad JSON, wrong type)."""

    kind = "malformed"
    status = 400


class Unauthenticated(LabdeckError):
    kind = "unauthenticated"
    status = 401


class Forbidden(LabdeckError):
    """The actor is known and may see the thing, but may not do this to it."""

    kind = "forbidden"
    status = 403


class NotFound(LabdeckError):
    """Absent, or present but invisible to the actor (existence must not leak)."""

    kind = "not_found"
    status = 404


class Conflict(LabdeckError):
    """Valid on its own, but clashes with the current state (duplicate, last admin)."""

    kind = "conflict"
    status = 409


class TooLarge(LabdeckError):
    kind = "too_large"
    status = 413


class Invalid(LabdeckError):
    """A field's value breaks a rule; `field` names it."""

    kind = "invalid"
    status = 422


class RetryLater(LabdeckError):
    """Nothing is wrong with the request, but it cannot be served now; the
    client may try again after `retry_after` seconds. Nothing was changed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryLater):
    """Too many of these requests lately (verification mails, say)."""

    kind = "rate_limited"
    status = 429


class Unavailable(RetryLater):
    """The database is down, locked or full, or a write raced another."""

    kind = "unavailable"
    status = 503
