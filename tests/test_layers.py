"""The layers contract (docs/architecture.md) holds: `scripts/lint-imports`
runs import-linter over all four source roots of `labdeck` with the
contracts of pyproject.toml. scripts/test runs it too, before pytest; this
keeps it in the suite that CI and reviewers run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_layers_contract_is_kept() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    # All four roots were read, not only the first one the import system
    # names (which would make every other layer look absent).
    found = re.search(r"Analyzed (\d+) files", done.stdout)
    assert found, done.stdout
    analyzed = int(found.group(1))
    roots = ("backend", "extension", "kernel", "widgets")
    sources = [
        path
        for root in roots
        for path in (ROOT / root / "labdeck").rglob("*.py")
        if "migrations" not in path.parts
    ]
    assert analyzed == len(sources), (analyzed, len(sources))
    print(done.stdout.strip().splitlines()[-1])
