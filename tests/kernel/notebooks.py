"""Run a notebook in a real kernel (nbclient), recording into a labdeck
database, and read what its cells printed: the kernel tests that need a
notebook's own prompt numbers and cell hooks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run_notebook(
    cells: Iterable[str],
    tmp_path: Path,
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
    pythonpath: Path | None = None,
) -> nbformat.NotebookNode:
    """Executes `cells` as a notebook in `tmp_path`, the kernel recording
    into `database_url` (flushing every 0.5 s); `env` adds variables, `unset`
    removes some, `pythonpath` goes first on the kernel's path. Returns the
    executed notebook."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    kernel_env = {
        **os.environ,
        "LABDECK_DATABASE_URL": database_url,
        "LABDECK_STORAGE_URL": (tmp_path / "storage").as_uri(),
        "LABDECK_FLUSH_INTERVAL": "0.5",
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        **(env or {}),
    }
    for name in unset:
        kernel_env.pop(name, None)
    if pythonpath is not None:
        kernel_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(pythonpath), kernel_env.get("PYTHONPATH")])
        )
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=kernel_env)
    return nb


def errors(nb: nbformat.NotebookNode) -> list[object]:
    """The error outputs of every cell."""
    return [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]


def printed(nb: nbformat.NotebookNode, prefix: str) -> str:
    """The rest of the first printed line that starts with `prefix`."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix) :]
    raise AssertionError(f"no output starts with {prefix!r}")
