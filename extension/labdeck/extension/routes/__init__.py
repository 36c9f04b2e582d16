"""The route table: every endpoint of the REST API (docs/api.md),
one module per area."""

from __future__ import annotations

from ..endpoint import Endpoint
from . import (
    account,
    alert_rules,
    artifacts,
    lab,
    members,
    meta,
    orgs,
    projects,
    registry,
    reports,
    runs,
    system,
    teams,
)

ROUTES: list[Endpoint] = [
    *meta.ROUTES,
    *account.ROUTES,
    *alert_rules.ROUTES,
    *orgs.ROUTES,
    *teams.ROUTES,
    *members.ROUTES,
    *projects.ROUTES,
    *runs.ROUTES,
    *reports.ROUTES,
    *artifacts.ROUTES,
    *registry.ROUTES,
    *system.ROUTES,
    *lab.ROUTES,
]
