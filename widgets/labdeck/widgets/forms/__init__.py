"""ipywidgets forms over the backend services (F-UI-4).

Each form is a small class: it reads through services, sends what the user
typed to services, and shows a refused action's message beside the field it
names. `labdeck.settings()` (`labdeck.widgets.settings`) puts them in tabs;
each can also be displayed on its own: `display(ProfileForm(backend, actor))`.
"""

from __future__ import annotations

from .account import ProfileForm
from .alert_rules import AlertRulesForm, TeamAlertRulesForm
from .base import Form, Outcome, Row
from .danger import DeleteAccountForm
from .emails import EmailsForm
from .keys import ApiKeysForm
from .preferences import AlertsForm, BetaFeaturesForm, GithubForm, StorageForm
from .team_admin import (
    InvitationsForm,
    PrivacyForm,
    ServiceAccountsForm,
    StorageConnectorForm,
    TeamAlertsForm,
    TeamAvatarForm,
    TeamUsageForm,
)
from .teams import CreateTeamForm, CustomRolesForm, MyInvitationsForm, TeamMembersForm

__all__ = [
    "AlertRulesForm",
    "AlertsForm",
    "ApiKeysForm",
    "BetaFeaturesForm",
    "CreateTeamForm",
    "CustomRolesForm",
    "DeleteAccountForm",
    "EmailsForm",
    "Form",
    "GithubForm",
    "InvitationsForm",
    "MyInvitationsForm",
    "Outcome",
    "PrivacyForm",
    "ProfileForm",
    "Row",
    "ServiceAccountsForm",
    "StorageConnectorForm",
    "StorageForm",
    "TeamAlertRulesForm",
    "TeamAlertsForm",
    "TeamAvatarForm",
    "TeamMembersForm",
    "TeamUsageForm",
]
