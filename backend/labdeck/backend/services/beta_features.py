"""Beta features (F-US-3): the catalogue of every beta feature a user may
turn on, and each user's choices.

The catalogue lives in code, not in the database, because each beta feature
gates code: one without the behaviour behind it would be a lie in the
settings panel. A user's choice is a `BetaFeatureChoice` row; no row means
off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Invalid, Malformed
from ..models import BetaFeatureChoice


@dataclass(frozen=True)
class BetaFeature:
    name: str
    description: str


BETA_FEATURES: dict[str, BetaFeature] = {
    feature.name: feature
    for feature in (
        BetaFeature(
            "openmetrics_histograms",
            "Also records the histograms and summaries scraped from OpenMetrics endpoints "
            "(their _bucket, _sum and _count series and quantiles), not only gauges and "
            "counters. Histograms can add many series per endpoint.",
        ),
        BetaFeature(
            "proc_memory_pss",
            "Adds proc.memory.pssMB, the proportional set size of the monitored process "
            "tree (shared pages split fairly). Reading it walks /proc/<pid>/smaps, about a "
            "millisecond a process, so it runs on its own slower cadence.",
        ),
        BetaFeature(
            "chart_zoom_refetch",
            "When you zoom into a live chart, it fetches the full-resolution data for the "
            "zoomed window from the server instead of stretching the downsampled points.",
        ),
    )
}


def _enabled(session: Session, user_id: int) -> frozenset[str]:
    rows = session.scalars(
        select(BetaFeatureChoice.name).where(
            BetaFeatureChoice.user_id == user_id, BetaFeatureChoice.enabled.is_(True)
        )
    )
    # A beta feature removed from the code may still have rows; it gates nothing now.
    return frozenset(rows) & BETA_FEATURES.keys()


def _listing(enabled: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "description": f.description, "enabled": f.name in enabled}
        for f in BETA_FEATURES.values()
    ]


def list_beta_features(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _listing(_enabled(session, user.id))


def set_beta_features(
    backend: Backend, actor: Actor, changes: Mapping[str, bool]
) -> list[dict[str, Any]]:
    """Every beta feature named is checked before any is saved; unnamed ones
    keep their state."""
    if not isinstance(changes, Mapping):
        raise Malformed("the beta features must be a JSON object of name to true/false")
    for name, value in changes.items():
        if name not in BETA_FEATURES:
            raise Invalid(f"there is no beta feature named {name!r}", field=str(name))
        validate.flag(value, name)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        for name, value in changes.items():
            row = session.get(BetaFeatureChoice, (user.id, name))
            if row is None:
                session.add(BetaFeatureChoice(user_id=user.id, name=name, enabled=value))
            else:
                row.enabled = value
        session.flush()
        return _listing(_enabled(session, user.id))


def is_enabled(backend: Backend, actor: Actor, name: str) -> bool:
    """For the code behind a beta feature; asking about an unknown one is a bug there."""
    if name not in BETA_FEATURES:
        raise KeyError(f"unknown beta feature {name!r}")
    return name in enabled_beta_features(backend, actor)


def enabled_beta_features(backend: Backend, actor: Actor) -> frozenset[str]:
    """All of the actor's enabled beta features in one query, for a caller
    (the kernel starting a monitor) that checks several at once."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        return _enabled(session, user.id)
