"""The namespace over four roots works both installed editable and as a wheel."""

from __future__ import annotations

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
