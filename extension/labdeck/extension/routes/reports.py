"""Reports of a project: Markdown write-ups that members follow and comment on."""

from __future__ import annotations

from typing import Any

from labdeck.backend.services import reports

from .. import schemas as s
from ..endpoint import Call, Endpoint
from .projects import PAGE_QUERY, closed

TAG = "reports"
COMMENT = s.obj({"id": s.INT, "user": s.NSTR, "text": s.STR, "created_at": s.STR})


def list_reports(call: Call) -> dict[str, Any]:
    return reports.list_reports(
        call.backend,
        call.me,
        call.params["entity"],
        call.params["project"],
        limit=call.arg("limit"),
        cursor=call.arg("cursor"),
    )


def create_report(call: Call) -> dict[str, Any]:
    body = call.json()
    return reports.create_report(
        call.backend,
        call.me,
        call.params["entity"],
        call.params["project"],
        call.field(body, "title"),
        body.get("body", ""),
    )


def get_report(call: Call) -> dict[str, Any]:
    return reports.get_report(call.backend, call.me, call.int_param("id"))


def patch_report(call: Call) -> dict[str, Any]:
    return reports.patch_report(call.backend, call.me, call.int_param("id"), call.json())


def delete_report(call: Call) -> None:
    reports.delete_report(call.backend, call.me, call.int_param("id"))


def follow_report(call: Call) -> dict[str, Any]:
    return reports.follow_report(call.backend, call.me, call.int_param("id"))


def unfollow_report(call: Call) -> None:
    reports.unfollow_report(call.backend, call.me, call.int_param("id"))


def comment_report(call: Call) -> dict[str, Any]:
    body = call.json()
    return reports.comment_report(
        call.backend, call.me, call.int_param("id"), call.field(body, "text")
    )


ROUTES = [
    Endpoint(
        "GET",
        "/projects/{entity}/{project}/reports",
        list_reports,
        "Reports of a project, newest first (paginated)",
        TAG,
        response=s.page(s.REPORT),
        query=PAGE_QUERY,
    ),
    Endpoint(
        "POST",
        "/projects/{entity}/{project}/reports",
        create_report,
        "Write a report (its author follows it)",
        TAG,
        request=s.body({"title": s.STR, "body": s.STR}, required=["title"]),
        response=s.REPORT,
        status=201,
    ),
    Endpoint("GET", "/reports/{id}", get_report, "A report", TAG, response=s.REPORT),
    Endpoint(
        "PATCH",
        "/reports/{id}",
        patch_report,
        "Edit a report's title or body",
        TAG,
        request=closed({"title": s.STR, "body": s.STR}),
        response=s.REPORT,
    ),
    Endpoint("DELETE", "/reports/{id}", delete_report, "Delete a report", TAG, status=204),
    Endpoint(
        "POST",
        "/reports/{id}/follow",
        follow_report,
        "Follow a report (its comments are mailed to followers)",
        TAG,
        response=s.REPORT,
    ),
    Endpoint(
        "DELETE",
        "/reports/{id}/follow",
        unfollow_report,
        "Stop following a report",
        TAG,
        status=204,
    ),
    Endpoint(
        "POST",
        "/reports/{id}/comments",
        comment_report,
        "Comment on a report; its other followers are mailed",
        TAG,
        request=s.body({"text": s.STR}, required=["text"]),
        response=COMMENT,
        status=201,
    ),
]
