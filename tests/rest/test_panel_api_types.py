"""The panel's API client is typed from the OpenAPI document the server
serves: `extension/src/api/schema.ts` must be exactly what openapi-typescript
makes of `GET /labdeck/api/openapi.json`. When a route changes, regenerate it:

    LABDECK_WRITE_API_TYPES=1 python -m pytest tests/rest/test_panel_api_types.py

then fix what the TypeScript compiler reports (`jlpm build` in `extension/`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXTENSION = Path(__file__).parent.parent.parent / "extension"
SCHEMA_TS = EXTENSION / "src" / "api" / "schema.ts"
GENERATOR = EXTENSION / "node_modules" / ".bin" / "openapi-typescript"


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, sqlite_template):
    """The document does not depend on the database: one engine is enough."""
    path = tmp_path / "labdeck.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


async def test_panel_api_types_match_the_served_openapi_document(
    jp_fetch, labdeck_backend, tmp_path: Path
) -> None:
    assert GENERATOR.exists(), (
        "extension/node_modules is missing: `pip install -e .` (or `jlpm install` "
        "in extension/) installs the frontend's tools"
    )
    response = await jp_fetch("labdeck", "api", "openapi.json", method="GET")
    served = tmp_path / "openapi.json"
    served.write_text(json.dumps(json.loads(response.body)))
    generated = tmp_path / "schema.ts"
    subprocess.run(
        [str(GENERATOR), str(served), "--output", str(generated)],
        cwd=EXTENSION,
        check=True,
        capture_output=True,
        timeout=120,
    )
    fresh = generated.read_text()
    if os.environ.get("LABDECK_WRITE_API_TYPES"):
        SCHEMA_TS.write_text(fresh)
    assert SCHEMA_TS.read_text() == fresh, (
        "extension/src/api/schema.ts is not what the served OpenAPI document makes: "
        "regenerate it (see this module's docstring)"
    )
