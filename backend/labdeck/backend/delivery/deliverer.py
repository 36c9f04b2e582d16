"""The loop that drains the outbox, in a thread of the server that owns the
database (the embedded server, or `labdeck serve`; never a client-mode
user's server, which has no database).

Each round claims a batch (`outbox.claim`), sends it with no transaction
open, and settles each row in a transaction of its own. A message is marked
sent only after its peer accepted it, and a crash between the two leaves a
leased row that is sent again once the lease runs out: at least once, and
exactly once unless the process dies in that instant (the mail then carries
the same Message-ID, so a receiving server can drop the copy).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

from ..context import Backend
from ..errors import RetryLater
from . import mail, outbox, slack
from .outbox import Claimed

log = logging.getLogger("labdeck")

BATCH = 50
NO_SMTP = (
    "no SMTP server is configured (smtp_host / LABDECK_SMTP_HOST): labdeck sends no mail, "
    "so this message was not sent"
)


def _lease_s(backend: Backend) -> float:
    """Longer than one batch can take, so that a slow live deliverer never
    loses its rows to another."""
    return max(120.0, 4 * backend.settings.smtp_timeout * 2)


@dataclass
class Round:
    """What one round did (tests and logs read it)."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)


class Deliverer:
    def __init__(self, backend: Backend, *, name: str | None = None) -> None:
        self.backend = backend
        self.name = name or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round --------------------------------------------------------------------------

    def run_once(self) -> Round:
        """Claim what is due and try to send it, once."""
        settings = self.backend.settings
        done = Round()
        rows = outbox.claim(self.backend, self.name, BATCH, _lease_s(self.backend))
        emails = [r for r in rows if r.channel == "email"]
        others = [r for r in rows if r.channel != "email"]

        def settle(row: Claimed, error: Exception | None) -> None:
            if error is None:
                if outbox.sent(self.backend, row.id, self.name):
                    done.sent.append(row.id)
                else:
                    log.warning("labdeck: message %s was sent after its lease ran out", row.id)
                return
            permanent = isinstance(error, mail.Permanent)
            reason = str(error) if permanent else f"{type(error).__name__}: {error}"
            gave_up = outbox.failed(
                self.backend,
                row,
                self.name,
                reason,
                permanent=permanent,
                max_attempts=settings.delivery_max_attempts,
                backoff_s=settings.delivery_backoff,
            )
            (done.failed if gave_up else done.retrying).append(row.id)
            if gave_up:
                log.warning(
                    "labdeck: message %s (%s) failed for good: %s", row.id, row.kind, reason
                )

        if emails:
            if mail.configured(settings):
                mail.send_batch(settings, emails, settle)
            else:
                for row in emails:
                    settle(row, mail.Permanent(NO_SMTP))
        for row in others:
            if self._stop.is_set():
                break
            try:
                if row.channel != "slack":
                    raise mail.Permanent(f"unknown channel {row.channel!r}")
                slack.post(row, settings.smtp_timeout)
            except Exception as exc:
                settle(row, exc)
            else:
                settle(row, None)
        return done

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        if self.backend.settings.delivery_interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="labdeck-deliverer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now rather than at the next interval."""
        self._wake.set()

    def _loop(self) -> None:
        interval = self.backend.settings.delivery_interval
        while not self._stop.is_set():
            try:
                busy = bool(self.run_once())
            except RetryLater:
                busy = False  # the database is down or locked: logged once, by `outages`
            except Exception:
                log.exception("labdeck: the deliverer failed; it will try again")
                busy = False
            if busy:
                continue  # more may be due right away
            self._wake.wait(interval)
            self._wake.clear()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            outbox.release(self.backend, self.name)
        except Exception as exc:
            log.warning("labdeck: the deliverer could not release its leases: %s", exc)
