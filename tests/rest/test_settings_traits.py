"""`c.LabdeckApp.<name>`: the server's traits are generated from the settings
declarations, keep their names, default to what the one reader finds in the
environment, and feed the backend and the kernels the server starts."""

from __future__ import annotations

import os
from typing import Any

import pytest
from traitlets.config import Config

from labdeck.backend.config import SPECS, Part
from labdeck.extension.app import KERNEL_EXPORTS, LabdeckApp

# The trait names operators' config files already use.
EXISTING = {
    "database_url",
    "admin_users",
    "user_quota_bytes",
    "team_quota_bytes",
    "storage_url",
    "public_url",
    "sample_interval",
    "flush_interval",
    "heartbeat_staleness",
    "reaper_interval",
    "github_client_id",
    "github_client_secret",
    "github_authorize_url",
    "github_token_url",
    "github_user_url",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private copy of the environment without labdeck's variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LABDECK_")}
    monkeypatch.setattr(os, "environ", environ)
    return environ


def test_one_trait_per_server_setting_with_the_old_names() -> None:
    traits = set(LabdeckApp.class_own_traits(config=True))
    assert traits == {name for name, spec in SPECS.items() if Part.SERVER in spec.parts}
    assert EXISTING <= traits
    help_text = "\n".join(LabdeckApp.class_get_help().splitlines())
    assert "--LabdeckApp.public_url" in help_text and "LABDECK_PUBLIC_URL" in help_text


def test_configured_traits_win_and_the_rest_come_from_the_environment(
    clean_env: dict[str, str],
) -> None:
    clean_env.update(
        LABDECK_ADMIN_USERS="Root,ops",
        LABDECK_USER_QUOTA_BYTES="5000",
        LABDECK_STORAGE_URL="file:///from-env",
    )
    app = LabdeckApp(
        config=Config(
            {
                "LabdeckApp": {
                    "storage_url": "file:///from-config",
                    "flush_interval": 20.0,
                    "email_token_ttl": 60.0,
                }
            }
        )
    )
    assert app.user_quota_bytes == 5000 and sorted(app.admin_users) == ["ops", "root"]
    settings = app.labdeck_settings()
    assert settings.storage_url == "file:///from-config"
    assert settings.user_quota_bytes == 5000
    assert settings.admin_users == frozenset({"root", "ops"})
    assert settings.flush_interval == 20.0
    assert settings.heartbeat_staleness == 60.0 == app.heartbeat_staleness
    assert settings.email_token_ttl.total_seconds() == 60.0
    # A setting the server does not read still comes from the one reader.
    clean_env["LABDECK_DISK_PATHS"] = "/data"
    assert app.labdeck_settings().disk_paths == ("/data",)


def test_the_old_base_url_variable_still_sets_public_url(clean_env: dict[str, str]) -> None:
    clean_env["LABDECK_BASE_URL"] = "http://old.example.org/"
    with pytest.warns(FutureWarning, match="LABDECK_PUBLIC_URL"):
        assert LabdeckApp().public_url == "http://old.example.org/"


def test_kernels_inherit_the_exported_settings(clean_env: dict[str, str]) -> None:
    clean_env["LABDECK_FLUSH_INTERVAL"] = "0.5"
    app = LabdeckApp(
        config=Config({"LabdeckApp": {"database_url": "sqlite:////tmp/x.db", "sample_interval": 2}})
    )
    app.export_to_kernels(app.labdeck_settings())
    exported = {SPECS[name].env: clean_env[SPECS[name].env] for name in KERNEL_EXPORTS}
    assert exported == {
        "LABDECK_DATABASE_URL": "sqlite:////tmp/x.db",
        "LABDECK_SAMPLE_INTERVAL": "2.0",
        "LABDECK_FLUSH_INTERVAL": "0.5",
        # Unset here: the server fills the public URL in once it listens.
        "LABDECK_PUBLIC_URL": "",
        "LABDECK_SMTP_HOST": "",
    }


async def test_the_running_server_uses_its_jupyter_config(
    labdeck_backend: Any, jp_serverapp: Any, settings: Any
) -> None:
    """tests/rest/conftest.py configures the server through `LabdeckApp` traits."""
    assert labdeck_backend.settings.public_url == "http://127.0.0.1:8888/"
    assert labdeck_backend.settings.storage_url == settings.storage_url
    (app,) = jp_serverapp.extension_manager.extension_apps["labdeck"]
    assert app.reaper.interval == 0.0
