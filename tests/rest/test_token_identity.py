"""F-ID-1 under `jupyter lab`'s default authentication: its identity provider
(PasswordIdentityProvider, token or password) names a random anonymous user
per browser and per token-authenticated request. The labdeck user behind
them is the server's owner, the account its kernels act as, every time."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from jupyter_server.auth.identity import PasswordIdentityProvider

from labdeck.backend.services import identity


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, sqlite_template):
    """The identity does not depend on the engine."""
    path = tmp_path / "labdeck.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "ServerApp": {
            **jp_server_config["ServerApp"],
            "identity_provider_class": PasswordIdentityProvider,
        },
    }


async def test_default_lab_authentication_is_the_server_owner(
    jp_serverapp: Any, api_jupyter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An environment variable names nobody: the owner is the OS account.
    monkeypatch.setenv("JUPYTERHUB_USER", "intruder")
    owner = identity.server_owner()
    assert owner != "intruder"
    assert type(jp_serverapp.identity_provider) is PasswordIdentityProvider
    code, first = await api_jupyter("GET", "/me")
    assert code == 200 and first["username"] == owner
    code, changed = await api_jupyter("PATCH", "/me", {"name": "Owner"})
    assert code == 200
    # A second token request is the same account, with the change it made.
    code, again = await api_jupyter("GET", "/me")
    assert code == 200 and again["username"] == owner and again["name"] == "Owner"
