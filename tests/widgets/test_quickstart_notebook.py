"""notebooks/quickstart.ipynb executes headless (nbclient) on a fresh
database, with no error output, and records what it says it does."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, markers, runs

NOTEBOOKS = Path(__file__).parent.parent.parent / "notebooks"


def execute(name: str, tmp_path: Path, url: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {
        **os.environ,
        "LABDECK_DATABASE_URL": url,
        "LABDECK_STORAGE_URL": (tmp_path / "storage").as_uri(),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTERHUB_USER": "newcomer",  # declared: the kernel is its OS account
        "LABDECK_FLUSH_INTERVAL": "0.5",
    }
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=env)
    return nb


def errors(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" or output.get("name") == "stderr":
                found.append(f"{cell.source[:40]!r}: {output}")
    return found


def test_quickstart_runs_clean_on_a_fresh_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    nb = execute("quickstart.ipynb", tmp_path, url)
    assert errors(nb) == []
    backend = Backend.open(url)
    owner = identity.server_owner()
    me = identity.actor_for(backend, owner)
    items = runs.list_runs(backend, me, owner, "quickstart")["items"]
    assert len(items) == 3 and {r["state"] for r in items} == {"finished"}
    magic_run = items[-1]
    cells = markers.list_markers(backend, me, magic_run["id"])
    assert any(m["first_line"] == "# burn some CPU" for m in cells)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), (
        "the live chart and the comparison chart are widgets"
    )
    # The ledger (F-SM-12): the burn cell's row has its CPU-seconds, and the
    # quickstart shows the stored run's ledger table.
    ledger = {r["first_line"]: r for r in markers.list_cells(backend, me, magic_run["id"])}
    assert ledger["# burn some CPU"]["cpu_seconds"] > 0
    assert ledger["# hold some memory for a moment"]["rss_peak_bytes"] > 0
    shown = next(c for c in nb.cells if "labdeck.cells(notebook_run)" in c.source)
    assert any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown.outputs
    )
