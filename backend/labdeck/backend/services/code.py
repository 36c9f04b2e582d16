"""Saved code (F-TS-4): a run with code saving on keeps the sources of its
executed cells, in order, and for `labdeck monitor` the command line and the
script it ran, as run files in its project's store (the team's connector or
the default, F-TS-6). Off, nothing is kept: the service refuses the write.

Whether a run saves code is decided when it is created (`runs.create_run`:
the user's choice for the run, else the team's `code_saving_default`, else
off) and kept in its reserved config. Files are written outside any
transaction, between the one that checks the write and the one that lists
it (a file whose row cannot be committed is removed again); reading reads
the rows first and the files after. Whoever sees a run's cell markers sees
its code.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select

from .. import storage, validate
from ..access import actor_user
from ..context import Actor, Backend
from ..errors import Conflict, Invalid, LabdeckError, NotFound
from ..models import CellMarker, Project, Run, RunFile, utcnow
from .runs import RESERVED_CONFIG_KEY, load_run, require_logger

KINDS = ("cell", "command", "script")
NAME_MAX = 512
TEXT_MAX = 1_000_000  # bytes of one saved file
MAX_FILES = 100_000  # per run


def saves_code(run: Run) -> bool:
    reserved = (run.config or {}).get(RESERVED_CONFIG_KEY) or {}
    return bool(reserved.get("code_saving"))


def file_view(row: RunFile) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "kind": row.kind,
        "name": row.name,
        "marker_id": row.marker_id,
        "size_bytes": row.size_bytes,
    }


def save_code(
    backend: Backend,
    actor: Actor,
    run_id: str,
    kind: str,
    name: str,
    text: str,
    marker_id: int | None = None,
) -> dict[str, Any]:
    """Keep one file of the run's code; refused (Conflict) when the run does
    not save code, so that off means nothing is kept."""
    kind = validate.choice(kind, "kind", KINDS)
    label = validate.text(name, "name", max_len=NAME_MAX, min_len=1)
    if not isinstance(text, str):
        raise Invalid("text must be a string", field="text")
    data = text.encode("utf-8", "replace")
    if len(data) > TEXT_MAX:
        raise Invalid(f"a saved file holds at most {TEXT_MAX} bytes", field="text")
    if marker_id is not None and not validate.is_row_id(marker_id):
        raise Invalid("marker_id must be a marker's id", field="marker_id")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        require_logger(run, user.id, "save its code")
        found.require("log experiments", user)
        if not saves_code(run):
            raise Conflict("code saving is off for this run: nothing is kept")
        if marker_id is not None:
            marker = session.get(CellMarker, marker_id)
            if marker is None or marker.run_id != run.id:
                raise NotFound("no cell marker with that id in this run")
        count = session.scalar(select(func.count()).where(RunFile.run_id == run.id)) or 0
        if count >= MAX_FILES:
            raise Conflict(f"a run keeps at most {MAX_FILES} files of code")
        project = session.get(Project, run.project_id)
        assert project is not None
        storage.require_quota(session, backend, project, len(data))
        root = storage.store_for(session, backend, project)
        run_key, project_id = run.id, project.id
    # A fresh name per file: two writers never share one, and a file whose
    # row fails is removed without touching another's.
    prefix = storage.join(root, "runs", str(project_id), run_key, "code", secrets.token_hex(8))
    filename = f"{kind}.py" if kind != "command" else "command.txt"
    storage.write_files(backend, prefix, [(filename, data)])
    try:
        with backend.db.transaction() as session:
            seq = (
                session.scalar(
                    select(func.coalesce(func.max(RunFile.seq), 0)).where(RunFile.run_id == run_key)
                )
                or 0
            ) + 1
            row = RunFile(
                run_id=run_key,
                seq=seq,
                kind=kind,
                name=label,
                marker_id=marker_id,
                size_bytes=len(data),
                storage_url=storage.join(prefix, filename),
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return file_view(row)
    except Exception:
        storage.purge(backend, [prefix])
        raise


def list_code(backend: Backend, actor: Actor, run_id: str) -> dict[str, Any]:
    """The run's saved code in order, each file with its text (None where the
    store has lost it), and whether the run saves code at all."""
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        rows = list(
            session.scalars(select(RunFile).where(RunFile.run_id == run.id).order_by(RunFile.seq))
        )
        enabled = saves_code(run)
        listed = [(file_view(r), r.storage_url) for r in rows]
        counts = dict(
            session.execute(
                select(CellMarker.id, CellMarker.execution_count).where(CellMarker.run_id == run.id)
            ).all()
        )
    files = []
    for view, url in listed:
        try:
            text: str | None = storage.open_file(backend, url).decode("utf-8", "replace")
        except LabdeckError:
            text = None
        marker = view["marker_id"]
        files.append(
            view
            | {"execution_count": counts.get(marker) if marker is not None else None, "text": text}
        )
    return {"code_saving": enabled, "files": files}


def code_urls(session: Any, run_ids: Any) -> list[str]:
    """The stored files of the runs `run_ids` selects (purged with them)."""
    return list(session.scalars(select(RunFile.storage_url).where(RunFile.run_id.in_(run_ids))))
