"""Which rows of permissions.csv each layer's matrix test checked, for the
run's closing summary (tests/conftest.py prints it)."""

from __future__ import annotations

MATRIX_CHECKS: dict[str, set[str]] = {}
