"""Every table of labdeck; importing this module registers them all on `Base`."""

from __future__ import annotations

from .accounts import (
    AlertPreference,
    ApiKey,
    BetaFeature,
    Email,
    EmailToken,
    GithubOAuthState,
    User,
)
from .alerts import Alert, Notification
from .base import Base, utcnow
from .content import (
    ArtifactAlias,
    ArtifactFile,
    ArtifactVersion,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Report,
    ReportComment,
    ReportFollower,
)
from .projects import CellMarker, MetricPoint, MetricRollup, MetricSeries, Project, Run
from .teams import CustomRole, Invitation, Membership, Organization, OrgMember, Team

__all__ = [
    "Alert",
    "AlertPreference",
    "ApiKey",
    "ArtifactAlias",
    "ArtifactFile",
    "ArtifactVersion",
    "Base",
    "BetaFeature",
    "CellMarker",
    "CustomRole",
    "Email",
    "EmailToken",
    "GithubOAuthState",
    "Invitation",
    "Membership",
    "MetricPoint",
    "MetricRollup",
    "MetricSeries",
    "ModelAlias",
    "ModelVersion",
    "Notification",
    "OrgMember",
    "Organization",
    "Project",
    "RegisteredModel",
    "Report",
    "ReportComment",
    "ReportFollower",
    "Run",
    "Team",
    "User",
    "utcnow",
]
