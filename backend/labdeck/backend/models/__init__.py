"""Every table of labdeck; importing this module registers them all on `Base`."""

from __future__ import annotations

from .accounts import (
    AlertPreference,
    ApiKey,
    BetaFeatureChoice,
    Email,
    EmailToken,
    GithubOAuthState,
    User,
    VerificationMail,
)
from .alerts import Alert, AlertMark, AlertRule, AlertRuleState, Notification
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
from .projects import (
    CellMarker,
    MetricPoint,
    MetricRollup,
    MetricSeries,
    Project,
    Run,
    RunFile,
)
from .teams import CustomRole, Invitation, Membership, Organization, OrgMember, Team

__all__ = [
    "Alert",
    "AlertMark",
    "AlertRule",
    "AlertRuleState",
    "AlertPreference",
    "ApiKey",
    "ArtifactAlias",
    "ArtifactFile",
    "ArtifactVersion",
    "Base",
    "BetaFeatureChoice",
    "CellMarker",
    "RunFile",
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
    "VerificationMail",
    "utcnow",
]
