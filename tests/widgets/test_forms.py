"""The ipywidgets forms (F-UI-4) driven from Python against a real database.

Each test sets widget values and clicks buttons as a person would. A saved
change must reach the database; a refused one must leave every table as it
was and show the service's message in the form, beside its field.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from labdeck.backend.context import Backend
from labdeck.backend.errors import Unauthenticated
from labdeck.backend.models import Base, Notification
from labdeck.backend.services import (
    alert_settings,
    apikeys,
    beta_features,
    emails,
    identity,
    invitations,
    members,
    orgs,
    profile,
    service_accounts,
    team_settings,
    teams,
)
from labdeck.widgets.forms import (
    AlertsForm,
    ApiKeysForm,
    BetaFeaturesForm,
    CreateTeamForm,
    CustomRolesForm,
    DeleteAccountForm,
    EmailsForm,
    GithubForm,
    InvitationsForm,
    MyInvitationsForm,
    PrivacyForm,
    ProfileForm,
    ServiceAccountsForm,
    StorageConnectorForm,
    StorageForm,
    TeamAlertsForm,
    TeamAvatarForm,
    TeamMembersForm,
    TeamUsageForm,
)
from labdeck.widgets.settings import SettingsPanel, settings

LINK = re.compile(r"verify\?token=([A-Za-z0-9_-]+)")


def snapshot(backend: Backend) -> dict[str, list[str]]:
    """Every row of every table: equal snapshots mean nothing was written."""
    with backend.db.reader() as s:
        return {
            t.name: sorted(map(repr, s.execute(select(t)).all()))
            for t in Base.metadata.sorted_tables
        }


def png(colour: tuple[int, int, int] = (0, 128, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(out, format="PNG")
    return out.getvalue()


def upload(data: bytes, name: str = "picture.png") -> tuple[dict[str, Any], ...]:
    """A `FileUpload` value as ipywidgets 8 sets it from the browser."""
    return (
        {
            "name": name,
            "type": "image/png",
            "size": len(data),
            "content": memoryview(data),
            "last_modified": dt.datetime.now(dt.timezone.utc),
        },
    )


def verify(backend: Backend, address: str) -> None:
    with backend.db.reader() as s:
        bodies = s.scalars(select(Notification.body).where(Notification.recipient == address))
        token = LINK.findall(list(bodies)[-1])[-1]
    emails.verify_email(backend, token)


@pytest.fixture
def team(backend, make_user):
    """root (admin account) administers `vision` in org `acme`; alice is a member."""
    root = make_user("root", admin=True)
    alice = make_user("alice")
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    return {"root": root, "alice": alice}


# -- account ---------------------------------------------------------------------------------


def test_profile_saves_every_field_and_refuses_a_bad_website_whole(backend, make_user):
    alice = make_user("alice")
    form = ProfileForm(backend, alice)
    form.inputs["name"].value = "Alice Liddell"
    form.inputs["bio"].value = "<b>not html</b>"
    form.inputs["website"].value = "https://alice.example.org"
    form.save.click()
    saved = profile.get_profile(backend, alice)
    assert (saved["name"], saved["bio"]) == ("Alice Liddell", "<b>not html</b>")
    assert form.status.value == "Profile saved." and form.messages() == []

    before = snapshot(backend)
    form.inputs["name"].value = "Changed"
    form.inputs["website"].value = "javascript:alert(1)"
    form.save.click()
    assert snapshot(backend) == before
    assert "http" in form.errors["website"].value
    assert form.errors["name"].value == "" and form.status.value == ""


def test_profile_picture_upload_and_refusal(backend, make_user):
    alice = make_user("alice")
    form = ProfileForm(backend, alice)
    before = snapshot(backend)
    form.upload.value = upload(b"%PDF-1.4 not a picture", "cv.pdf")
    assert snapshot(backend) == before
    assert "PNG, JPEG, GIF or WebP" in form.errors["avatar"].value
    assert form.upload.value == ()

    form.upload.value = upload(png())
    assert profile.get_profile(backend, alice)["avatar_url"] is not None
    assert Image.open(io.BytesIO(form.picture.value)).size == (256, 256)
    form.remove_picture.click()
    assert profile.get_profile(backend, alice)["avatar_url"] is None


def test_emails_add_verify_primary_and_refusals(backend, make_user):
    alice = make_user("alice")
    form = EmailsForm(backend, alice)
    form.address.value = "alice.work@example.org"
    form.add.click()
    row = form.rows["alice.work@example.org"]
    assert form.address.value == "" and "verification" in form.status.value
    assert row.box.children[0].style.text_color == "#c62828"  # unverified: red
    assert "resend" in row.controls and "primary" in row.controls

    before = snapshot(backend)
    row["primary"].click()
    assert "verify alice.work@example.org" in form.rows["alice.work@example.org"].error.value
    form.rows["alice@example.org"]["delete"].click()
    assert "primary address" in form.rows["alice@example.org"].error.value
    form.rows["alice.work@example.org"]["resend"].click()
    assert "moments ago" in form.rows["alice.work@example.org"].error.value
    form.address.value = "not an address"
    form.add.click()
    assert "not a valid email" in form.errors["address"].value
    assert snapshot(backend) == before

    verify(backend, "alice.work@example.org")
    form.refresh()
    assert "resend" not in form.rows["alice.work@example.org"].controls
    form.rows["alice.work@example.org"]["primary"].click()
    listed = {e["address"]: e["primary"] for e in emails.list_emails(backend, alice)}
    assert listed == {"alice@example.org": False, "alice.work@example.org": True}
    form.rows["alice@example.org"]["delete"].click()
    assert [e["address"] for e in emails.list_emails(backend, alice)] == ["alice.work@example.org"]


def test_api_keys_secret_is_shown_once_and_keys_revoke(backend, make_user):
    alice = make_user("alice")
    form = ApiKeysForm(backend, alice)
    form.name.value = "laptop"
    form.create.click()
    secret = form.secret.value.value
    (key,) = apikeys.list_keys(backend, alice)
    assert secret.startswith(key["prefix"]) and identity.authenticate_key(backend, secret) == alice
    assert form.secret.box.layout.display is None

    form.rows[key["id"]]["revoke"].click()
    assert apikeys.list_keys(backend, alice) == []
    assert form.secret.value.value == "" and form.secret.box.layout.display == "none"
    with pytest.raises(Unauthenticated):
        identity.authenticate_key(backend, secret)


def test_beta_features_checkboxes_save(backend, make_user):
    alice = make_user("alice")
    form = BetaFeaturesForm(backend, alice)
    name = next(iter(form.checkboxes))
    form.checkboxes[name].value = True
    form.save.click()
    assert beta_features.is_enabled(backend, alice, name)


def test_alerts_grid_and_slack_webhook(backend, make_user):
    alice = make_user("alice")
    form = AlertsForm(backend, alice)
    before = snapshot(backend)
    form.grid.switches[("run_crashed", "slack")].value = True
    form.save.click()
    assert "webhook" in form.errors["slack_webhook_url"].value
    form.slack_webhook_url.value = "http://hooks.example.org/x"
    form.save.click()
    assert "https://" in form.errors["slack_webhook_url"].value
    assert snapshot(backend) == before

    form.slack_webhook_url.value = "https://hooks.slack.com/services/T/B/X"
    form.grid.switches[("run_finished", "email")].value = False
    form.save.click()
    saved = alert_settings.get_alert_settings(backend, alice)
    assert saved["events"]["run_crashed"]["slack"] is True
    assert saved["events"]["run_finished"]["email"] is False
    assert saved["slack_webhook_url"].startswith("https://hooks.slack.com/")


def test_github_connect_and_storage(backend, make_user):
    alice = make_user("alice")
    form = GithubForm(backend, alice)
    assert form.state.value == "No GitHub account connected."
    form.connect.click()
    assert "not configured" in form.error.value and form.link.value == ""
    backend.settings.github_client_id = "abc"
    form.connect.click()
    assert 'href="https://github.com/login/oauth/authorize?client_id=abc' in form.link.value
    assert form.disconnect.layout.display == "none"

    bar = StorageForm(backend, alice)
    assert bar.usage.bar.value == 0 and bar.usage.text.value.startswith("0 B of 100.0 GB")


def test_delete_account_needs_the_user_name_and_no_orphaned_team(backend, team):
    form = DeleteAccountForm(backend, team["root"])
    before = snapshot(backend)
    form.confirm.value = "someone"
    form.delete.click()
    assert "type your user name (root)" in form.errors["confirm"].value
    form.confirm.value = "root"
    form.delete.click()
    assert "last admin of vision" in form.error.value
    assert snapshot(backend) == before

    mine = DeleteAccountForm(backend, team["alice"])
    mine.confirm.value = "alice"
    mine.delete.click()
    assert mine.status.value == "Your account was deleted." and mine.delete.disabled
    with pytest.raises(Unauthenticated):
        profile.get_profile(backend, team["alice"])


# -- teams -----------------------------------------------------------------------------------


def test_create_team_as_admin_and_refused_to_a_user(backend, make_user):
    root, bob = make_user("root", admin=True), make_user("bob")
    refused = CreateTeamForm(backend, bob)
    before = snapshot(backend)
    refused.name.value, refused.organization.value = "bobs-team", "acme"
    refused.create.click()
    assert "create or delete teams" in refused.error.value
    assert snapshot(backend) == before

    created: list[bool] = []
    form = CreateTeamForm(backend, root, on_created=lambda: created.append(True))
    form.name.value, form.organization.value = "Bad Name!", "acme"
    form.create.click()
    assert form.errors["name"].value and snapshot(backend) == before
    form.name.value, form.type.value = "vision", "academic"
    form.create.click()
    assert created == [True]
    assert teams.get_team(backend, root, "vision")["type"] == "academic"
    assert form.organization.options == ("acme",)


def test_members_roles_last_admin_and_removal(backend, team):
    form = TeamMembersForm(backend, team["root"], "vision", manage=True)
    assert "only one admin" in form.warning.value
    before = snapshot(backend)
    form.rows["root"]["role"].value = "member"
    assert "last admin of vision" in form.rows["root"].error.value
    assert form.rows["root"]["role"].value == "admin"  # back to what is saved
    assert snapshot(backend) == before

    form.rows["alice"]["role"].value = "view_only"
    listed = {
        m["username"]: m["role"]
        for m in members.list_members(backend, team["root"], "vision")["items"]
    }
    assert listed == {"alice": "view_only", "root": "admin"}
    form.rows["alice"]["role"].value = "admin"
    assert form.warning.value == ""
    form.rows["alice"]["remove"].click()
    assert [
        m["username"] for m in members.list_members(backend, team["root"], "vision")["items"]
    ] == ["root"]


def test_members_are_read_only_for_a_member_who_may_leave(backend, team):
    left: list[bool] = []
    form = TeamMembersForm(
        backend, team["alice"], "vision", manage=False, on_left=lambda: left.append(True)
    )
    assert form.rows["root"].controls == {}
    form.leave.click()
    assert left == [True] and teams.list_my_teams(backend, team["alice"]) == []


def test_invite_cancel_and_accept(backend, team, make_user):
    bob = make_user("bob")
    form = InvitationsForm(backend, team["root"], "vision")
    before = snapshot(backend)
    form.email.value = "nobody"
    form.invite.click()
    assert "not a valid email" in form.errors["email"].value
    form.email.value = "alice@example.org"
    form.invite.click()
    assert "belongs to a member" in form.errors["email"].value
    assert snapshot(backend) == before

    form.email.value, form.role.value = "carol@example.org", "view_only"
    form.invite.click()
    form.email.value, form.role.value = "bob@example.org", "member"
    form.invite.click()
    (carol,) = [i for i, r in form.rows.items() if "carol" in r.box.children[0].value]
    form.rows[carol]["cancel"].click()
    assert list(form.rows) != [] and carol not in form.rows

    joined: list[bool] = []
    mine = MyInvitationsForm(backend, bob, on_joined=lambda: joined.append(True))
    (number,) = mine.rows
    mine.rows[number]["accept"].click()
    assert joined == [True]
    assert teams.list_my_teams(backend, bob)[0]["my_role"] == "member"
    assert invitations.list_my_invitations(backend, bob) == []


def test_custom_roles_for_org_admins(backend, team):
    form = CustomRolesForm(backend, team["root"], "acme")
    before = snapshot(backend)
    form.name.value = "admin"
    form.create.click()
    assert "standard role" in form.errors["name"].value and snapshot(backend) == before
    form.name.value, form.base_role.value = "reviewer", "view_only"
    form.permissions.value = ("create reports",)
    form.create.click()
    (role,) = orgs.list_custom_roles(backend, team["root"], "acme")
    assert (role["name"], role["base_role"], role["permissions"]) == (
        "reviewer",
        "view_only",
        ["create reports"],
    )
    refused = CustomRolesForm(backend, team["alice"], "acme")
    refused.name.value = "writer"
    refused.create.click()
    assert refused.error.value and len(orgs.list_custom_roles(backend, team["root"], "acme")) == 1
    assert "reviewer" in [
        v for _label, v in InvitationsForm(backend, team["root"], "vision").role.options
    ]


def test_service_accounts_secret_once_and_delete(backend, team):
    form = ServiceAccountsForm(backend, team["root"], "vision")
    form.name.value = "ci-bot"
    form.create.click()
    secret = form.secret.value.value
    assert identity.authenticate_key(backend, secret)
    form.rows["ci-bot"]["delete"].click()
    assert service_accounts.list_service_accounts(backend, team["root"], "vision") == []
    with pytest.raises(Unauthenticated):
        identity.authenticate_key(backend, secret)


def test_team_settings_forms(backend, team, tmp_path):
    root = team["root"]
    privacy = PrivacyForm(backend, root, "vision")
    privacy.force_private.value = privacy.code_saving_default.value = True
    privacy.save.click()
    saved = team_settings.get_settings(backend, root, "vision")
    assert saved["force_private"] and saved["code_saving_default"]

    alerts = TeamAlertsForm(backend, root, "vision")
    before = snapshot(backend)
    alerts.grid.switches[("run_crashed", "email")].value = True
    alerts.save.click()
    assert "alerts.email" in alerts.errors["alerts.email"].value and snapshot(backend) == before
    alerts.email.value = "oncall@example.org"
    alerts.save.click()
    saved = team_settings.get_settings(backend, root, "vision")["alerts"]
    assert saved["email"] == "oncall@example.org" and saved["events"]["run_crashed"]["email"]

    connector = StorageConnectorForm(backend, root, "vision")
    assert connector.where.value == "Using the server's default storage."
    before = snapshot(backend)
    connector.storage_url.value = "no scheme here"
    connector.save.click()
    assert "fsspec URL" in connector.errors["storage_url"].value and snapshot(backend) == before
    store = (tmp_path / "team-store").as_uri()
    connector.storage_url.value = store
    connector.save.click()
    assert team_settings.get_settings(backend, root, "vision")["storage_url"] == store
    assert connector.where.value == f"Using {store}."

    avatar = TeamAvatarForm(backend, root, "vision")
    assert avatar.picture.layout.display == "none"
    avatar.upload.value = upload(png((255, 0, 0)))
    assert team_settings.get_team_avatar(backend, root, "vision").startswith(b"\x89PNG")
    assert avatar.picture.layout.display is None

    usage = TeamUsageForm(backend, root, "vision")
    assert usage.usage.text.value.startswith("0 B of 100.0 GB")


def test_team_admin_forms_refuse_a_member(backend, team):
    before = snapshot(backend)
    privacy = PrivacyForm(backend, team["alice"], "vision")
    assert "view team settings" in privacy.error.value
    privacy.force_private.value = True
    privacy.save.click()
    assert "manage team settings" in privacy.error.value
    assert snapshot(backend) == before


def test_settings_shows_what_each_user_may_do(backend, team):
    admin = SettingsPanel(backend, team["root"])
    assert admin.tab.titles[-2:] == ("Teams", "Delete account")
    assert admin.create_team is not None and list(admin.custom_roles) == ["acme"]
    assert admin.teams_tab.titles == ("Overview", "vision")
    assert (
        len(admin.team_forms["vision"]) == 9
    )  # members, then the 8 admin forms (threshold rules among them)

    member = SettingsPanel(backend, team["alice"])
    assert member.create_team is None and member.custom_roles == {}
    (members_form,) = member.team_forms["vision"]
    assert isinstance(members_form, TeamMembersForm) and not members_form.manage

    admin.create_team.name.value, admin.create_team.organization.value = "audio", "acme"
    admin.create_team.create.click()
    assert admin.teams_tab.titles == ("Overview", "audio", "vision")


def test_settings_defaults_to_the_kernel_user(backend, monkeypatch):
    monkeypatch.setenv("LABDECK_DATABASE_URL", backend.db.url)
    monkeypatch.setenv("JUPYTERHUB_USER", "Grace Hopper")  # declared: grants nothing
    monkeypatch.delenv("LABDECK_API_KEY", raising=False)
    tab = settings()
    assert "Teams" in tab.titles
    owner = identity.actor_for(backend, identity.server_owner())
    assert profile.get_profile(backend, owner)["account_type"] == "admin"  # first user
