"""Runs (F-SM-7, F-SM-8, F-TM-6): start, list, edit, stop, move,
end, and the reaper that marks runs whose kernel died.

Ending a run is a conditional UPDATE (`WHERE state = 'running'`): whoever
ends it first wins, every other ender sees a conflict, and the alert of
that ending is dispatched exactly once even with several servers (and
kernels) on one database.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from .. import storage, validate
from ..access import ProjectAccess, actor_user, is_service, membership, project_access
from ..alerting import dispatch_run_event
from ..context import Actor, Backend
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import Email, MetricSeries, Project, Run, RunFile, Team, User, utcnow
from ..paging import Page, page_result
from .projects import load_project, user_label

RUN_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
RESERVED_CONFIG_KEY = "_labdeck"
END_STATES = ("finished", "crashed")
# The error line a crashed run's alert quotes (the last line of the traceback).
MAX_ERROR_LINE = 500
NOTES_MAX = 100_000
_ADJECTIVES = (
    "brisk", "calm", "eager", "fancy", "gentle", "hardy", "jolly", "keen", "lively", "mellow",
    "nimble", "proud", "quiet", "rapid", "sunny", "swift", "tidy", "vivid", "witty", "zesty",
)  # fmt: skip
_NOUNS = (
    "river", "forest", "meadow", "comet", "harbor", "canyon", "glacier", "summit", "valley",
    "breeze", "ember", "island", "lagoon", "prairie", "ridge", "spring", "tundra", "willow",
)  # fmt: skip


def new_run_id() -> str:
    return "".join(secrets.choice(RUN_ID_ALPHABET) for _ in range(8))


def run_view(
    run: Run, project: Project, creator: User | None, logger: User | None
) -> dict[str, Any]:
    return {
        "id": run.id,
        "entity": project.entity,
        "project": project.name,
        "name": run.name,
        "state": run.state,
        "created_by": user_label(creator),
        "logged_by": user_label(logger),
        "created_at": run.created_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "heartbeat_at": run.heartbeat_at.isoformat(),
        "config": run.config,
        "notes": run.notes,
        "system": run.system,
    }


def _view(session: Session, run: Run, project: Project) -> dict[str, Any]:
    return run_view(
        run, project, session.get(User, run.created_by), session.get(User, run.logged_by)
    )


def load_run(session: Session, user: User, run_id: Any) -> tuple[Run, ProjectAccess]:
    """A run the user may see (through its project), or NotFound."""
    run = session.get(Run, run_id) if isinstance(run_id, str) and len(run_id) <= 16 else None
    project = session.get(Project, run.project_id) if run is not None else None
    found = project_access(session, user, project) if project is not None else None
    if run is None or found is None:
        raise NotFound("no run with that id")
    return run, found


class RunFacts(Protocol):
    """What the lifecycle rules read of a run: a `Run`, or the same columns
    loaded by the write path (`services/ingest.py`)."""

    @property
    def state(self) -> str: ...
    @property
    def logged_by(self) -> int: ...
    @property
    def created_by(self) -> int: ...


def require_logger(run: RunFacts, user_id: int, doing: str) -> None:
    """Data and lifecycle calls come from the identity that logs the run (its
    kernel), or the person it is attributed to; nobody else writes into it."""
    if user_id not in (run.logged_by, run.created_by):
        raise Forbidden(f"only the identity that logs this run may {doing}")


def require_running(run: RunFacts, doing: str) -> None:
    if run.state != "running":
        raise Conflict(f"the run is {run.state}; cannot {doing}")


def _user_config(config: Any) -> dict[str, Any]:
    clean = validate.json_object(config, "config")
    if RESERVED_CONFIG_KEY in clean:
        raise Invalid(f"config key {RESERVED_CONFIG_KEY!r} is reserved", field="config")
    return clean


def _attributed(session: Session, user: User, attribute_to: str | None) -> User:
    """F-TM-6: a service account's run is credited to the team member named by
    LABDECK_USERNAME / LABDECK_USER_EMAIL. Anyone else who is not a member is
    refused alike, so the call does not tell which accounts exist."""
    if attribute_to is None:
        return user
    wanted = attribute_to.strip().lower()
    target = session.scalar(select(User).where(User.username == wanted, User.deleted.is_(False)))
    if target is None and "@" in wanted:
        target = session.scalar(
            select(User)
            .join(Email, Email.user_id == User.id)
            .where(Email.address == wanted, Email.verified.is_(True), User.deleted.is_(False))
        )
    if not is_service(user):
        if target is not None and target.id == user.id:
            return user
        raise Invalid("only a service account may attribute a run to someone", field="attribute_to")
    team_id = user.service_team_id
    if (
        target is None
        or team_id is None
        or is_service(target)
        or membership(session, team_id, target.id) is None
    ):
        raise Invalid(
            f"{attribute_to!r} names no member of this service account's team", field="attribute_to"
        )
    return target


def create_run(
    backend: Backend,
    actor: Actor,
    entity: str,
    project: str,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    attribute_to: str | None = None,
    system: Mapping[str, Any] | None = None,
    save_code: bool | None = None,
) -> dict[str, Any]:
    """A `running` run; needs "log experiments" on the project. `save_code`
    is the user's choice of code saving for this run (F-TS-4); None takes
    the team's `code_saving_default` (off for a personal project)."""
    choice = None if save_code is None else validate.flag(save_code, "save_code")
    label = validate.text(name, "name", max_len=128, min_len=1) if name is not None else None
    user_config = _user_config(config if config is not None else {})
    system_info = validate.json_object(system if system is not None else {}, "system")
    if attribute_to is not None:
        validate.text(attribute_to, "attribute_to", max_len=320, min_len=1)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, project)
        found.require("log experiments", user)
        creator = _attributed(session, user, attribute_to)
        proj = found.project
        team = session.get(Team, proj.team_id) if proj.team_id is not None else None
        run_id = new_run_id()
        while session.get(Run, run_id) is not None:
            run_id = new_run_id()
        if label is None:
            count = (
                session.scalar(
                    select(func.count()).select_from(Run).where(Run.project_id == proj.id)
                )
                or 0
            )
            label = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{count + 1}"
        now = utcnow()
        run = Run(
            id=run_id,
            project_id=proj.id,
            name=label,
            state="running",
            created_by=creator.id,
            logged_by=user.id,
            config=user_config
            | {
                RESERVED_CONFIG_KEY: {
                    "code_saving": bool(team and team.code_saving_default)
                    if choice is None
                    else choice
                }
            },
            system=system_info,
            created_at=now,
            heartbeat_at=now,
        )
        session.add(run)
        session.flush()
        return run_view(run, proj, creator, user)


def _cursor_key(cursor: Any) -> tuple[dt.datetime, str] | None:
    if cursor is None:
        return None
    try:
        stamp, run_id = cursor
        when = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        raise Invalid("cursor is not one this server gave out", field="cursor") from None
    # The server's cursors hold an aware time and a printable run id; anything
    # else would reach the database as a naive time or as text it cannot take.
    if when.tzinfo is None or not isinstance(run_id, str) or not run_id.isprintable():
        raise Invalid("cursor is not one this server gave out", field="cursor")
    return when, run_id


def list_runs(
    backend: Backend,
    actor: Actor,
    entity: str,
    project: str,
    limit: Any = None,
    cursor: Any = None,
) -> dict[str, Any]:
    """Newest first; a page costs the same few queries however long it is."""
    page = Page.parse(limit, cursor)
    after = _cursor_key(page.after)
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, project)
        found.require("view experiment metadata", user)
        creator, logger = aliased(User), aliased(User)
        query = (
            select(Run, creator, logger)
            .join(creator, creator.id == Run.created_by)
            .join(logger, logger.id == Run.logged_by)
            .where(Run.project_id == found.project.id)
            .order_by(Run.created_at.desc(), Run.id.desc())
            .limit(page.limit + 1)
        )
        if after is not None:
            stamp, last_id = after
            query = query.where(
                or_(Run.created_at < stamp, (Run.created_at == stamp) & (Run.id < last_id))
            )
        rows = list(session.execute(query))
        items = [run_view(run, found.project, c, lg) for run, c, lg in rows]
        return page_result(
            items, rows, page, lambda row: [row[0].created_at.isoformat(), row[0].id]
        )


def get_run(backend: Backend, actor: Actor, run_id: str) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        return _view(session, run, found.project)


def patch_run(
    backend: Backend, actor: Actor, run_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Name, notes and config are the run's workspace: any member may edit
    them ("edit experiment panels and workspaces"); `config._labdeck` stays."""
    if not isinstance(changes, Mapping):
        raise Invalid("changes must be a JSON object", field="changes")
    validate.only_fields(changes, ("name", "notes", "config"))
    name = (
        validate.text(changes["name"], "name", max_len=128, min_len=1)
        if "name" in changes
        else None
    )
    notes = (
        validate.text(changes["notes"], "notes", max_len=NOTES_MAX, strip=False)
        if "notes" in changes
        else None
    )
    config = _user_config(changes["config"]) if "config" in changes else None
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("edit experiment panels and workspaces", user)
        if name is not None:
            run.name = name
        if notes is not None:
            run.notes = notes
        if config is not None:
            run.config = config | {RESERVED_CONFIG_KEY: run.config.get(RESERVED_CONFIG_KEY, {})}
        return _view(session, run, found.project)


def delete_run(backend: Backend, actor: Actor, run_id: str) -> None:
    """ "delete experiments": a member deletes only the runs it created."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("delete experiments", user, run.created_by)
        files = list(session.scalars(select(RunFile.storage_url).where(RunFile.run_id == run.id)))
        session.delete(run)
    # Its saved code (F-TS-4) goes once the rows are gone for good.
    storage.purge(backend, files)


def _end(
    session: Session,
    backend: Backend,
    run: Run,
    state: str,
    ended_at: dt.datetime,
    error: str = "",
) -> None:
    """Ends one run on request (`end_run`, `stop_run`); the conditional
    UPDATE makes it happen once. `reap_stale_runs` ends the runs whose kernel
    died, in bulk, with the same `state = 'running'` guard."""
    ended = session.scalar(
        update(Run)
        .where(Run.id == run.id, Run.state == "running")
        .values(state=state, ended_at=ended_at)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    if ended is None:
        raise Conflict("the run has already ended")
    session.refresh(run)
    detail = f"Last error: {error}" if error and state == "crashed" else ""
    dispatch_run_event(
        backend,
        session,
        run,
        "run_finished" if state == "finished" else "run_crashed",
        detail=detail,
    )


def stop_run(backend: Backend, actor: Actor, run_id: str) -> dict[str, Any]:
    """ "stop experiments" (own for members): the run ends `finished`."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        found.require("stop experiments", user, run.created_by)
        require_running(run, "stop it")
        _end(session, backend, run, "finished", utcnow())
        return _view(session, run, found.project)


def move_run(
    backend: Backend, actor: Actor, run_id: str, entity: str, project: str
) -> dict[str, Any]:
    """Leaving a project is like deleting from it ("delete experiments", own),
    arriving is logging ("log experiments"). `created_by` is kept, so "own"
    still means the creator after the move (F-TM-8)."""
    entity = validate.text(entity, "entity", max_len=1024, strip=False)
    project = validate.text(project, "project", max_len=1024, strip=False)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, source = load_run(session, user, run_id)
        source.require("delete experiments", user, run.created_by)
        target = load_project(session, user, entity, project)
        target.require("log experiments", user)
        dest = target.project
        if dest.id == source.project.id:
            return _view(session, run, dest)
        src = source.project
        if (dest.team_id, dest.owner_id) != (src.team_id, src.owner_id):
            points = session.scalar(
                select(func.coalesce(func.sum(MetricSeries.count), 0)).where(
                    MetricSeries.run_id == run.id
                )
            )
            storage.require_quota(session, backend, dest, storage.POINT_BYTES * int(points or 0))
        run.project_id = dest.id
        session.flush()
        return _view(session, run, dest)


def end_run(
    backend: Backend,
    actor: Actor,
    run_id: str,
    state: str,
    ended_at: dt.datetime | None = None,
    dropped_samples: int | None = None,
    error: str = "",
) -> dict[str, Any]:
    """The kernel ends its run `finished` or `crashed`, once. `dropped_samples`:
    how many samples the kernel's recorder had to drop (its retry buffer was
    full through an outage), kept in the run's `system` so a gap in the
    charts is explained, not mistaken for an idle process. `error` (the last
    line of a crash's traceback) goes into the crash alert."""
    chosen = validate.choice(state, "state", END_STATES)
    if dropped_samples is not None and (
        isinstance(dropped_samples, bool)
        or not isinstance(dropped_samples, int)
        or not 0 <= dropped_samples <= validate.MAX_ROW_ID
    ):
        raise Invalid("dropped_samples must be a whole number from 0", field="dropped_samples")
    if not isinstance(error, str):
        raise Invalid("error must be text", field="error")
    # Its last line, cut short: a long traceback must not keep the run from ending.
    lines = [line for line in error.replace("\x00", "").splitlines() if line.strip()]
    last_error = lines[-1].strip()[:MAX_ERROR_LINE] if lines else ""
    if ended_at is not None and (not isinstance(ended_at, dt.datetime) or ended_at.tzinfo is None):
        raise Invalid("ended_at must be a time with a time zone", field="ended_at")
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        run, found = load_run(session, user, run_id)
        require_logger(run, user.id, "end it")
        require_running(run, "end it again")
        when = ended_at or utcnow()
        if when < run.created_at:
            raise Invalid("ended_at is before the run started", field="ended_at")
        if dropped_samples is not None:
            run.system = {**(run.system or {}), "dropped_samples": dropped_samples}
        _end(session, backend, run, chosen, when, last_error)
        return _view(session, run, found.project)


def reap_stale_runs(
    backend: Backend,
    older_than: dt.datetime,
    *,
    alive: Sequence[str] = (),
    knocking: Sequence[tuple[str, int]] = (),
) -> list[str]:
    """F-SM-8: every running run whose last heartbeat is before `older_than`
    ends `crashed` at that last heartbeat, except the runs in `alive` (a
    kernel's write into them has arrived and waits to be stored) and the
    runs of `knocking`, (run id, account) pairs whose write the service
    refused for load since `older_than`, when that account is the run's
    logger: its kernel is alive and retrying (issue 9). One UPDATE …
    RETURNING claims them, so two reapers sharing a database never claim
    (and alert) the same run."""
    if not isinstance(older_than, dt.datetime) or older_than.tzinfo is None:
        raise Invalid("older_than must be a time with a time zone", field="older_than")
    stale = (
        update(Run)
        .where(Run.state == "running", Run.heartbeat_at < older_than)
        .where(Run.id.not_in(list(alive)))
    )
    if knocking:
        stale = stale.where(tuple_(Run.id, Run.logged_by).not_in(list(knocking)))
    with backend.db.transaction() as session:
        claimed = list(
            session.scalars(
                stale.values(state="crashed", ended_at=Run.heartbeat_at)
                .returning(Run.id)
                .execution_options(synchronize_session=False)
            )
        )
        if claimed:
            for run in session.scalars(select(Run).where(Run.id.in_(claimed)).order_by(Run.id)):
                dispatch_run_event(backend, session, run, "run_crashed")
        return sorted(claimed)
