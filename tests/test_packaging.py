"""The namespace over four roots works both installed editable and as a wheel,
and the wheel ships the prebuilt JupyterLab extension (F-UI-3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
LAYERS = ["backend", "extension", "kernel", "widgets"]
PROBE = (
    "import labdeck, labdeck.cli, labdeck.backend.models, labdeck.extension, labdeck.kernel,"
    " labdeck.widgets; import sys;"
    " print(labdeck.__file__); print(*(m.__file__ for m in"
    " (labdeck.extension, labdeck.kernel, labdeck.widgets)), sep='\\n')"
)


def test_editable_install_sees_every_layer() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd="/"
    ).stdout.split()
    for path, layer in zip(out[1:], ["extension", "kernel", "widgets"], strict=True):
        assert Path(path).is_relative_to(ROOT / layer)


def test_the_server_extension_loads_without_the_postgres_extra() -> None:
    """The default install (`pip install labdeck`, SQLite) has no PostgreSQL
    driver: the extension must import without it, or JupyterLab starts
    without labdeck (found on a fresh clone: a module imported psycopg)."""
    probe = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg2'] = None;"
        " import labdeck.extension.app, labdeck.extension.service, labdeck.cli"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd="/")


def test_wheel_holds_and_imports_every_layer(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("labdeck-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for layer in LAYERS:
        assert f"labdeck/{layer}/__init__.py" in names
    assert "labdeck/backend/migrations/versions/0001_initial_schema.py" in names
    # The prebuilt frontend and the config that enables the server extension.
    data = "labdeck-0.1.0.data/data/"
    lab = f"{data}share/jupyter/labextensions/labdeck/"
    assert f"{lab}package.json" in names and f"{lab}install.json" in names
    assert any(n.startswith(f"{lab}static/remoteEntry.") for n in names)
    assert f"{lab}schemas/labdeck/plugin.json" in names
    assert f"{data}etc/jupyter/jupyter_server_config.d/labdeck.json" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # -S: no .pth processing, so the editable install is invisible and only
    # the unpacked wheel provides `labdeck`; dependencies come from purelib.
    deps = sysconfig.get_paths()["purelib"]
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        env={"PYTHONPATH": f"{unpacked}:{deps}"},
    ).stdout.split()
    assert all(Path(p).is_relative_to(unpacked) for p in out)


def test_labextension_paths_name_the_built_extension() -> None:
    """`_jupyter_labextension_paths` (read by `jupyter labextension develop`)
    is relative to the `labdeck` package's directory and names the build."""
    import labdeck

    (entry,) = labdeck._jupyter_labextension_paths()
    assert entry["dest"] == "labdeck"
    built = (Path(labdeck.__file__).parent / entry["src"]).resolve()
    assert built == ROOT / "extension" / "labdeck" / "extension" / "labextension"
    meta = json.loads((built / "package.json").read_text())
    assert meta["name"] == "labdeck" and meta["jupyterlab"]["_build"]["load"].startswith("static/")


def test_jupyter_lists_the_extension_enabled_and_ok() -> None:
    jupyter = Path(sys.executable).parent / "jupyter"
    out = subprocess.run(
        [str(jupyter), "labextension", "list"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    text = out.stdout + out.stderr
    line = next(line for line in text.splitlines() if line.strip().startswith("labdeck "))
    plain = line.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert "enabled" in plain and "OK" in plain and "(python, labdeck)" in plain, line
