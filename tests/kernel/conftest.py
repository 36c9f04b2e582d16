"""Kernel tests record into a real SQLite file through the environment, as a
kernel started by the Jupyter server would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def kernel_db(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "labdeck.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LABDECK_DATABASE_URL", url)
    monkeypatch.setenv("LABDECK_STORAGE_URL", (tmp_path / "storage").as_uri())
    monkeypatch.setenv("LABDECK_FLUSH_INTERVAL", "0.2")
    monkeypatch.delenv("LABDECK_API_KEY", raising=False)
    # Declared, not proven: the kernel acts as its OS account all the same.
    monkeypatch.setenv("JUPYTERHUB_USER", "kim")
    return url
