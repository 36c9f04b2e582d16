"""Run attribution for service accounts (F-TM-6): their runs are credited to
the member named by `LABDECK_USERNAME` or `LABDECK_USER_EMAIL`. Who the kernel
acts as is `labdeck.backend.services.identity.process_actor`."""

from __future__ import annotations

import os


def attribution() -> str | None:
    return os.environ.get("LABDECK_USERNAME") or os.environ.get("LABDECK_USER_EMAIL") or None
