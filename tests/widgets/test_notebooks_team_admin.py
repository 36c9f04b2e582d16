"""notebooks/team-admin.ipynb runs headless on a fresh database, with no
error output, and really does what it says (team, invitation, roles,
privacy, service account)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from labdeck.backend.context import Backend
from labdeck.backend.db import Database
from labdeck.backend.services import (
    identity,
    members,
    orgs,
    service_accounts,
    team_settings,
)

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "team-admin.ipynb"
# The kernel acts as its OS account (F-ID-1), not as JUPYTERHUB_USER.
KERNEL_USER = identity.server_owner()


@pytest.fixture
def jupyter_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A temp Jupyter data dir holding a `python3` kernelspec for this very
    interpreter (the venv's), a fresh SQLite file, and a fixed kernel user."""
    data_dir = tmp_path / "jupyter-data"
    spec_dir = data_dir / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (labdeck tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    url = f"sqlite:///{tmp_path / 'labdeck.db'}"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LABDECK_DATABASE_URL", url)
    monkeypatch.setenv("LABDECK_STORAGE_URL", (tmp_path / "storage").as_uri())
    monkeypatch.setenv("JUPYTERHUB_USER", "notebook-admin")  # declared: grants nothing
    monkeypatch.delenv("LABDECK_API_KEY", raising=False)
    return url


def test_team_admin_notebook_executes_without_errors(jupyter_env: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert errors == [], "\n".join(f"{e.ename}: {e.evalue}" for e in errors)
    stderr = [out.text for out in outputs if out.output_type == "stream" and out.name == "stderr"]
    assert not any("Traceback" in text for text in stderr), stderr
    printed = "".join(out.text for out in outputs if out.output_type == "stream")
    assert f"Acting as {KERNEL_USER} (admin account)" in printed
    assert "last admin of vision-lab" in printed
    widgets = [
        out
        for out in outputs
        if out.output_type in ("display_data", "execute_result")
        and "application/vnd.jupyter.widget-view+json" in out.data
    ]
    assert len(widgets) >= 8

    backend = Backend(Database(jupyter_env))
    try:
        admin = identity.actor_for(backend, KERNEL_USER)
        listed = members.list_members(backend, admin, "vision-lab")
        roles = {m["username"]: m["role"] for m in listed["items"]}
        assert roles == {"ada": "reviewer", KERNEL_USER: "admin"}
        assert listed["invitations"] == []
        settings = team_settings.get_settings(backend, admin, "vision-lab")
        assert settings["force_private"] and settings["code_saving_default"]
        (role,) = orgs.list_custom_roles(backend, admin, "acme-research")
        assert role["permissions"] == ["create reports", "edit reports"]
        (account,) = service_accounts.list_service_accounts(backend, admin, "vision-lab")
        assert account["username"] == "vision-lab.ci-runner"
    finally:
        backend.db.dispose()
