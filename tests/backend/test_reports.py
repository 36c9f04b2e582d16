"""Reports: the permission cells (own rules included), follow, comments and
the mail they send, pagination, and refusals that change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Forbidden, Invalid, NotFound
from labdeck.backend.models import (
    Notification,
    Report,
    ReportComment,
    ReportFollower,
)
from labdeck.backend.services import projects, reports


def report_rows(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    with backend.db.reader() as s:
        return {
            model.__tablename__: sorted(tuple(r) for r in s.execute(select(model.__table__)).all())
            for model in (Report, ReportFollower, ReportComment, Notification)
        }


@pytest.fixture
def world(backend: Backend, acme: dict[str, Any]) -> dict[str, Actor]:
    people = acme
    projects.create_project(backend, people["alice"], "acme", "vision")
    return people


def test_report_roundtrip(backend: Backend, world: dict[str, Actor]) -> None:
    body = "# Results\n\n<script>alert(1)</script> stays text\n"
    report = reports.create_report(backend, world["bob"], "acme", "vision", " Week 1 ", body)
    assert report["title"] == "Week 1" and report["body"] == body
    assert report["created_by"] == "bob"
    assert report["followers"] == ["bob"] and report["comments"] == []
    assert reports.get_report(backend, world["vera"], report["id"]) == report


def test_create_cells(backend: Backend, world: dict[str, Actor]) -> None:
    with pytest.raises(Forbidden, match="create reports"):
        reports.create_report(backend, world["vera"], "acme", "vision", "t")
    with pytest.raises(NotFound):
        reports.create_report(backend, world["olga"], "acme", "vision", "t")
    # open projects take reports from anyone signed in
    projects.create_project(backend, world["alice"], "acme", "public", visibility="open")
    outsider = reports.create_report(backend, world["olga"], "acme", "public", "hello")
    assert outsider["created_by"] == "olga"


@pytest.mark.parametrize(
    "title, body, field",
    [
        ("", "", "title"),
        ("   ", "", "title"),
        ("x" * 257, "", "title"),
        (None, "", "title"),
        ("ok", "x" * 100_001, "body"),
        ("ok", 5, "body"),
        ("ok", "nul\x00", "body"),
    ],
)
def test_bad_reports_change_nothing(
    backend: Backend, world: dict[str, Actor], title: Any, body: Any, field: str
) -> None:
    before = report_rows(backend)
    with pytest.raises(Invalid) as err:
        reports.create_report(backend, world["bob"], "acme", "vision", title, body)
    assert err.value.field == field
    assert report_rows(backend) == before


def test_body_at_the_limit(backend: Backend, world: dict[str, Actor]) -> None:
    report = reports.create_report(backend, world["bob"], "acme", "vision", "big", "é" * 100_000)
    assert len(reports.get_report(backend, world["bob"], report["id"])["body"]) == 100_000


def test_edit_and_delete_own_rule(backend: Backend, world: dict[str, Actor]) -> None:
    report = reports.create_report(backend, world["bob"], "acme", "vision", "draft")
    edited = reports.patch_report(backend, world["bob"], report["id"], {"body": "v2"})
    assert edited["body"] == "v2" and edited["updated_at"] >= report["updated_at"]
    for who in ("carol", "vera"):
        with pytest.raises(Forbidden, match="edit reports"):
            reports.patch_report(backend, world[who], report["id"], {"title": "mine now"})
        with pytest.raises(Forbidden, match="delete reports"):
            reports.delete_report(backend, world[who], report["id"])
    assert (
        reports.patch_report(backend, world["alice"], report["id"], {"title": "final"})["title"]
        == "final"
    )
    before = report_rows(backend)
    for changes, field in (({"created_by": "carol"}, "created_by"), ({"title": ""}, "title")):
        with pytest.raises(Invalid) as err:
            reports.patch_report(backend, world["bob"], report["id"], changes)
        assert err.value.field == field
    assert report_rows(backend) == before
    reports.delete_report(backend, world["bob"], report["id"])
    other = reports.create_report(backend, world["carol"], "acme", "vision", "x")
    reports.delete_report(backend, world["alice"], other["id"])
    assert report_rows(backend)["reports"] == []
    with pytest.raises(NotFound):
        reports.get_report(backend, world["bob"], report["id"])


def test_follow_and_comment(backend: Backend, world: dict[str, Actor]) -> None:
    report = reports.create_report(backend, world["bob"], "acme", "vision", "Week 1")
    followed = reports.follow_report(backend, world["vera"], report["id"])
    assert followed["followers"] == ["bob", "vera"]
    assert reports.follow_report(backend, world["vera"], report["id"])["followers"] == [
        "bob",
        "vera",
    ]
    comment = reports.comment_report(backend, world["vera"], report["id"], "  nice  ")
    assert comment["user"] == "vera" and comment["text"] == "nice" and comment["id"]
    with backend.db.reader() as s:
        mail = s.scalars(select(Notification)).all()
    # the other follower is told; the commenter is not
    assert [(m.recipient, m.kind) for m in mail] == [("bob@example.org", "report_comment")]
    assert "nice" in mail[0].body
    view = reports.get_report(backend, world["carol"], report["id"])
    assert [(c["user"], c["text"]) for c in view["comments"]] == [("vera", "nice")]
    assert reports.unfollow_report(backend, world["vera"], report["id"])["followers"] == ["bob"]
    with pytest.raises(NotFound):
        reports.follow_report(backend, world["olga"], report["id"])
    with pytest.raises(NotFound):
        reports.comment_report(backend, world["olga"], report["id"], "hi")
    before = report_rows(backend)
    for text in ("", "   ", "x" * 10_001, None):
        with pytest.raises(Invalid) as err:
            reports.comment_report(backend, world["carol"], report["id"], text)
        assert err.value.field == "text"
    assert report_rows(backend) == before


def test_list_pages_and_hidden_projects(backend: Backend, world: dict[str, Actor]) -> None:
    made = [
        reports.create_report(backend, world["bob"], "acme", "vision", f"r{i}")["id"]
        for i in range(5)
    ]
    first = reports.list_reports(backend, world["vera"], "acme", "vision", limit=2)
    assert [r["id"] for r in first["items"]] == made[::-1][:2]
    seen = [r["id"] for r in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = reports.list_reports(backend, world["vera"], "acme", "vision", 2, cursor)
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1]
    assert first["items"][0]["followers"] == ["bob"]
    with pytest.raises(NotFound):
        reports.list_reports(backend, world["olga"], "acme", "vision")
    with pytest.raises(Invalid):
        reports.list_reports(backend, world["bob"], "acme", "vision", cursor="bm9wZQ==")
    projects.create_project(backend, world["bob"], "acme", "secret", visibility="private")
    hidden = reports.create_report(backend, world["bob"], "acme", "secret", "mine")
    with pytest.raises(NotFound):
        reports.get_report(backend, world["carol"], hidden["id"])
    for bad in (-1, 0, 2**63, "1", None):
        with pytest.raises(NotFound):
            reports.get_report(backend, world["bob"], bad)
