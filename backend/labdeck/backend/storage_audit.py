"""The operator's check that storage holds no file the database forgot
(`labdeck storage orphans`).

Every artifact version's files sit below one prefix,
`<store>/artifacts/<project id>/<name>/<version folder>/`, recorded in its
row. Deleting a version, a project, an account or a team removes those
prefixes once the rows are gone; a prefix that no row names is an orphan:
files of something deleted whose store failed at that moment, or of an
upload that died between its files and its row. The stores looked at are
the default one and every team's own connector (a team deleted with its
connector takes that store out of sight: its files are purged when the
team is deleted).
"""

from __future__ import annotations

from sqlalchemy import select

from . import storage
from .context import Backend
from .models import ArtifactVersion, Team

# Below `artifacts/`: project id, artifact name, version folder.
_DEPTH = 3


def orphans(backend: Backend) -> list[str]:
    """URLs of version prefixes in the known stores that no artifact version names."""
    with backend.db.reader() as session:
        known = {url.rstrip("/") for url in session.scalars(select(ArtifactVersion.storage_url))}
        roots = {backend.settings.storage_url.rstrip("/")}
        roots |= {
            url.rstrip("/") for url in session.scalars(select(Team.storage_url)) if url.strip()
        }
    found: set[str] = set()
    for root in sorted(roots):
        for parts in storage.files_below(backend, storage.join(root, "artifacts")):
            prefix = storage.join(root, "artifacts", *parts[:_DEPTH])
            if prefix not in known:
                found.add(prefix)
    return sorted(found)
