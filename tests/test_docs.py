"""Docs travel with the code: a newcomer who clones only this repository can
follow every reference in it.

- every requirement id (`F-TM-6`) cited anywhere is defined in
  docs/features.md;
- nothing points at files outside the repository (the project's planning
  notes lived beside it once);
- every relative link of the docs and the README names a file that exists,
  and so does every source path they quote (`labdeck/backend/locks.py`);
- the generated pages (the REST API, the metric keys) are what their
  generators make of the code now.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from labdeck.backend import metricdocs
from labdeck.extension import apidocs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

FEATURE_ID = re.compile(r"\bF-[A-Z]{2}-\d+\b")
DEFINED_ID = re.compile(r"^- \*\*(F-[A-Z]{2}-\d+)\b", re.MULTILINE)
OUTSIDE = re.compile(
    r"\.\./shared\b"
    r"|\b(?:API|SPEC|DESIGN)\.md\b"
    r"|\bNOTES-[\w-]+"
    r"|\bspec/[\w-]+\.csv\b"
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A quoted path with a folder in it: `kernel/session.py`, `tests/hub`-style
# prose is left alone, and so are a user's own files (`jupyter_server_config.py`).
QUOTED_PATH = re.compile(r"`([\w.-]+(?:/[\w.-]+)+\.(?:py|md|ts|tsx|csv|json|toml|ipynb))`")

# Folders that are not the project's own text even when git does not ignore
# them (a checkout without .gitignore support: the walk below).
SKIPPED = {".git", ".venv", "node_modules", ".yarn", ".hub-proxy", "work", "lib", "labextension"}


def _files() -> Iterator[Path]:
    """The repository's files: what git tracks or would add."""
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        listed = subprocess.run(
            [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        for name in listed.split("\0"):
            if name and (ROOT / name).is_file():
                yield ROOT / name
        return
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIPPED.intersection(path.relative_to(ROOT).parts):
            yield path


def _texts() -> Iterator[tuple[Path, str]]:
    for path in _files():
        try:
            yield path, path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue


def test_every_cited_feature_id_is_defined_in_the_catalogue() -> None:
    defined = DEFINED_ID.findall((DOCS / "features.md").read_text())
    assert len(defined) == len(set(defined)), "an id is defined twice in docs/features.md"
    cited: dict[str, set[str]] = {}
    for path, text in _texts():
        for found in FEATURE_ID.findall(text):
            cited.setdefault(found, set()).add(str(path.relative_to(ROOT)))
    missing = {i: sorted(where)[:3] for i, where in cited.items() if i not in set(defined)}
    assert not missing, f"cited but not defined in docs/features.md: {missing}"
    print(f"\n{len(cited)} feature ids cited, {len(defined)} defined")


def test_nothing_refers_to_files_outside_the_repository() -> None:
    here = Path(__file__).resolve()
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for path, text in _texts()
        if path.resolve() != here
        for match in OUTSIDE.finditer(text)
    ]
    assert not found, "references to files that are not in this repository:\n" + "\n".join(found)


def test_every_docs_page_the_code_names_exists() -> None:
    named = {
        (str(path.relative_to(ROOT)), page)
        for path, text in _texts()
        for page in re.findall(r"\bdocs/[\w-]+\.md\b", text)
    }
    missing = sorted(f"{where}: {page}" for where, page in named if not (ROOT / page).exists())
    assert not missing, "pages named that docs/ does not have:\n" + "\n".join(missing)


def test_every_relative_link_of_the_docs_resolves() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(ROOT):
                broken.append(f"{page.relative_to(ROOT)}: {target} (outside the repository)")
            elif not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)


def test_every_source_path_the_docs_quote_exists() -> None:
    """Paths may be written from the repository's root or from any folder
    down (`labdeck/backend/outages.py`, `backend/rollups.py`): a file whose
    path ends so must exist. `work/` is the user's own folder."""
    files = [str(path.relative_to(ROOT)) for path in _files()]
    missing = [
        f"{page.relative_to(ROOT)}: {quoted}"
        for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
        for quoted in QUOTED_PATH.findall(page.read_text())
        if not quoted.startswith("work/")
        and not any(name == quoted or name.endswith("/" + quoted) for name in files)
    ]
    assert not missing, "quoted paths that no file has:\n" + "\n".join(missing)


def test_api_docs_are_generated_from_the_openapi_document() -> None:
    assert (DOCS / "api.md").read_text() == apidocs.render(), (
        "docs/api.md is stale: run scripts/gen-docs (or python -m labdeck.extension.apidocs)"
    )


def test_metric_docs_are_generated_from_the_catalogue() -> None:
    assert (DOCS / "metrics.md").read_text() == metricdocs.render(), (
        "docs/metrics.md is stale: run scripts/gen-docs (or python -m labdeck.backend.metricdocs)"
    )
