"""Reports of a project (F-TM-10): Markdown write-ups that members follow
and comment on. The body is stored as text; rendering it safely is the
viewer's job (never as raw HTML).

The author follows a new report, and a comment mails every other follower
through the outbox, which is what following a report is for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import validate
from ..access import ProjectAccess, actor_user, project_by_id
from ..context import Actor, Backend
from ..errors import Invalid, NotFound
from ..models import Email, Report, ReportComment, ReportFollower, User, utcnow
from ..notifier import Message
from ..paging import Page, page_result
from .projects import load_project, user_label

TITLE_MAX = 256
BODY_MAX = 100_000
COMMENT_MAX = 10_000


def _comment_view(comment: ReportComment, author: User | None) -> dict[str, Any]:
    return {
        "id": comment.id,
        "user": user_label(author),
        "text": comment.text,
        "created_at": comment.created_at.isoformat(),
    }


def _views(session: Session, reports: list[Report], project_path: str) -> list[dict[str, Any]]:
    """Views of several reports with their followers and comments: three
    queries whatever the number of reports."""
    ids = [r.id for r in reports]
    followers: dict[int, list[str]] = {i: [] for i in ids}
    comments: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    creators: dict[int, User] = {}
    if ids:
        creator_ids = {r.created_by for r in reports}
        creators = {u.id: u for u in session.scalars(select(User).where(User.id.in_(creator_ids)))}
        for report_id, follower in session.execute(
            select(ReportFollower.report_id, User)
            .join(User, User.id == ReportFollower.user_id)
            .where(ReportFollower.report_id.in_(ids))
            .order_by(User.username)
        ):
            label = user_label(follower)
            assert label is not None
            followers[report_id].append(label)
        for comment, author in session.execute(
            select(ReportComment, User)
            .outerjoin(User, User.id == ReportComment.user_id)
            .where(ReportComment.report_id.in_(ids))
            .order_by(ReportComment.id)
        ):
            comments[comment.report_id].append(_comment_view(comment, author))
    return [
        {
            "id": r.id,
            "project": project_path,
            "title": r.title,
            "body": r.body,
            "created_by": user_label(creators.get(r.created_by)),
            "created_at": r.created_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
            "followers": followers[r.id],
            "comments": comments[r.id],
        }
        for r in reports
    ]


def _view(session: Session, report: Report, found: ProjectAccess) -> dict[str, Any]:
    return _views(session, [report], _path(found))[0]


def _path(found: ProjectAccess) -> str:
    return f"{found.project.entity}/{found.project.name}"


def _load(session: Session, user: User, report_id: Any) -> tuple[Report, ProjectAccess]:
    """A report the user may read, or NotFound as if it did not exist."""
    report = session.get(Report, report_id) if validate.is_row_id(report_id) else None
    if report is None:
        raise NotFound("no report with that id")
    found = project_by_id(session, user, report.project_id, "report")
    found.require("view reports", user)
    return report, found


def list_reports(
    backend: Backend,
    actor: Actor,
    entity: str,
    project: str,
    limit: Any = None,
    cursor: Any = None,
) -> dict[str, Any]:
    page = Page.parse(limit, cursor)
    after = page.after_id()
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, project)
        found.require("view reports", user)
        query = select(Report).where(Report.project_id == found.project.id)
        if after is not None:
            query = query.where(Report.id < after)
        rows = list(session.scalars(query.order_by(Report.id.desc()).limit(page.limit + 1)))
        items = _views(session, rows[: page.limit], _path(found))
        return page_result(items, rows, page, lambda r: r.id)


def create_report(
    backend: Backend, actor: Actor, entity: str, project: str, title: str, body: str = ""
) -> dict[str, Any]:
    clean_title = validate.text(title, "title", max_len=TITLE_MAX, min_len=1)
    clean_body = validate.text(body, "body", max_len=BODY_MAX, strip=False)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        found = load_project(session, user, entity, project)
        found.require("create reports", user)
        report = Report(
            project_id=found.project.id, title=clean_title, body=clean_body, created_by=user.id
        )
        session.add(report)
        session.flush()
        session.add(ReportFollower(report_id=report.id, user_id=user.id))
        session.flush()
        return _view(session, report, found)


def get_report(backend: Backend, actor: Actor, report_id: int) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        report, found = _load(session, user, report_id)
        return _view(session, report, found)


def patch_report(
    backend: Backend, actor: Actor, report_id: int, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Title and body ("edit reports": a member edits only its own)."""
    if not isinstance(changes, Mapping):
        raise Invalid("changes must be a JSON object", field="changes")
    validate.only_fields(changes, ("title", "body"))
    title = (
        validate.text(changes["title"], "title", max_len=TITLE_MAX, min_len=1)
        if "title" in changes
        else None
    )
    body = (
        validate.text(changes["body"], "body", max_len=BODY_MAX, strip=False)
        if "body" in changes
        else None
    )
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        report, found = _load(session, user, report_id)
        found.require("edit reports", user, report.created_by)
        if title is not None:
            report.title = title
        if body is not None:
            report.body = body
        report.updated_at = utcnow()
        session.flush()
        return _view(session, report, found)


def delete_report(backend: Backend, actor: Actor, report_id: int) -> None:
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        report, found = _load(session, user, report_id)
        found.require("delete reports", user, report.created_by)
        session.delete(report)


def follow_report(backend: Backend, actor: Actor, report_id: int) -> dict[str, Any]:
    """Idempotent: following twice is still following once."""
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        report, found = _load(session, user, report_id)
        found.require("follow reports", user)
        if session.get(ReportFollower, (report.id, user.id)) is None:
            session.add(ReportFollower(report_id=report.id, user_id=user.id))
            session.flush()
        return _view(session, report, found)


def unfollow_report(backend: Backend, actor: Actor, report_id: int) -> dict[str, Any]:
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        report, found = _load(session, user, report_id)
        found.require("follow reports", user)
        session.execute(
            delete(ReportFollower).where(
                ReportFollower.report_id == report.id, ReportFollower.user_id == user.id
            )
        )
        return _view(session, report, found)


def comment_report(backend: Backend, actor: Actor, report_id: int, text: str) -> dict[str, Any]:
    """Adds a comment and mails the report's other followers (their verified
    primary address only: an unverified one may be somebody else's)."""
    clean = validate.text(text, "text", max_len=COMMENT_MAX, min_len=1)
    with backend.db.transaction() as session:
        user = actor_user(session, actor)
        report, found = _load(session, user, report_id)
        found.require("comment on reports", user)
        comment = ReportComment(report_id=report.id, user_id=user.id, text=clean)
        session.add(comment)
        session.flush()
        recipients = session.scalars(
            select(Email.address)
            .join(ReportFollower, ReportFollower.user_id == Email.user_id)
            .join(User, User.id == Email.user_id)
            .where(
                ReportFollower.report_id == report.id,
                ReportFollower.user_id != user.id,
                Email.is_primary.is_(True),
                Email.verified.is_(True),
                User.deleted.is_(False),
            )
            .order_by(Email.address)
        ).all()
        subject = f"[labdeck] {user.username} commented on {report.title!r}"[:512]
        body = (
            f"{user.username} commented on the report {report.title!r} "
            f"in {_path(found)}:\n\n{clean}"
        )
        for address in recipients:
            backend.notifier.send(
                session, Message("email", address, subject, body, "report_comment")
            )
        return _comment_view(comment, user)
