"""Who the kernel acts as (F-ID-1, F-TM-6).

A kernel acts as the user whose server started it: `JUPYTERHUB_USER`, else
the OS user. With `LABDECK_API_KEY` it acts as that key's owner instead (a
service account, for example), and a service account's runs are attributed
to the member named by `LABDECK_USERNAME` or `LABDECK_USER_EMAIL`.
"""

from __future__ import annotations

import getpass
import os

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import identity


def kernel_actor(backend: Backend) -> Actor:
    key = os.environ.get("LABDECK_API_KEY")
    if key:
        return identity.authenticate_key(backend, key)
    return identity.ensure_user(backend, os.environ.get("JUPYTERHUB_USER") or getpass.getuser())


def attribution() -> str | None:
    return os.environ.get("LABDECK_USERNAME") or os.environ.get("LABDECK_USER_EMAIL") or None
