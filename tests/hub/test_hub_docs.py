"""The jupyterhub_config.py excerpt the docs show is the one tests/hub runs."""

from __future__ import annotations

from pathlib import Path

from hub_excerpt import DOC_VALUES, labdeck_excerpt

ROOT = Path(__file__).parent.parent.parent


def test_docs_show_the_tested_configuration() -> None:
    excerpt = labdeck_excerpt(**DOC_VALUES)  # type: ignore[arg-type]
    for doc in ("docs/hub.md", "README.md"):
        assert excerpt in (ROOT / doc).read_text(), f"{doc} does not show the tested excerpt"
