"""REST: reports of a project, following and comments."""

from __future__ import annotations

from typing import Any

import pytest
from world import acme_team

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import projects

REPORT_FIELDS = {"id", "title", "body", "created_by", "followers", "comments"}


@pytest.fixture
def world(backend: Backend, make_user: Any) -> dict[str, Actor]:
    """Team acme (alice admin, bob and carol members, vera view-only), olga
    outside; the team project acme/vision."""
    people = acme_team(backend, make_user, through_services=True)
    projects.create_project(backend, people["bob"], "acme", "vision", "team")
    return people


async def test_reports_over_http(api_as: Any, world: dict[str, Actor]) -> None:
    bob, carol, vera, olga = (api_as(world[n]) for n in ("bob", "carol", "vera", "olga"))
    base = "/projects/acme/vision/reports"

    code, report = await bob("POST", base, {"title": "Week 1", "body": "# Loss\nwent down"})
    assert code == 201 and REPORT_FIELDS <= set(report)
    assert (report["title"], report["body"], report["created_by"]) == (
        "Week 1",
        "# Loss\nwent down",
        "bob",
    )
    assert report["followers"] == ["bob"] and report["comments"] == []
    rid = report["id"]
    code, second = await carol("POST", base, {"title": "Week 2"})
    assert code == 201 and second["body"] == ""
    for body, field in (
        ({"title": "  "}, "title"),
        ({"body": "x"}, "title"),
        ({"title": "t", "body": 3}, "body"),
    ):
        code, err = await bob("POST", base, body)
        assert code == 422 and err["field"] == field, body
    code, err = await vera("POST", base, {"title": "mine"})
    assert code == 403 and "create reports" in err["message"]
    code, _ = await olga("POST", base, {"title": "x"})
    assert code == 404

    code, page = await vera("GET", base, params={"limit": 1})
    assert code == 200 and [r["id"] for r in page["items"]] == [second["id"]]
    assert REPORT_FIELDS <= set(page["items"][0]) and page["next_cursor"]
    code, rest = await vera("GET", base, params={"limit": 1, "cursor": page["next_cursor"]})
    assert code == 200 and [r["id"] for r in rest["items"]] == [rid] and rest["next_cursor"] is None
    code, err = await vera("GET", base, params={"limit": "ten"})
    assert code == 422 and err["field"] == "limit"
    code, _ = await olga("GET", base)
    assert code == 404

    code, got = await vera("GET", f"/reports/{rid}")
    assert code == 200 and got["id"] == rid and REPORT_FIELDS <= set(got)
    code, err = await vera("GET", "/reports/first")
    assert code == 422 and err["field"] == "id"
    code, _ = await vera("GET", "/reports/99999999")
    assert code == 404
    code, _ = await olga("GET", f"/reports/{rid}")
    assert code == 404

    code, followed = await vera("POST", f"/reports/{rid}/follow")
    assert code == 200 and followed["followers"] == ["bob", "vera"]
    code, followed = await vera("POST", f"/reports/{rid}/follow")
    assert code == 200 and followed["followers"] == ["bob", "vera"]
    code, _ = await vera("DELETE", f"/reports/{rid}/follow")
    assert code == 204
    code, got = await vera("GET", f"/reports/{rid}")
    assert got["followers"] == ["bob"]
    code, _ = await olga("POST", f"/reports/{rid}/follow")
    assert code == 404
    code, _ = await olga("DELETE", f"/reports/{rid}/follow")
    assert code == 404

    code, comment = await vera("POST", f"/reports/{rid}/comments", {"text": "Nice curve"})
    assert code == 201 and comment["user"] == "vera" and comment["text"] == "Nice curve"
    assert {"id", "created_at"} <= set(comment)
    code, err = await vera("POST", f"/reports/{rid}/comments", {"text": ""})
    assert code == 422 and err["field"] == "text"
    code, err = await vera("POST", f"/reports/{rid}/comments", {})
    assert code == 422 and err["field"] == "text"
    code, _ = await olga("POST", f"/reports/{rid}/comments", {"text": "hi"})
    assert code == 404
    code, got = await bob("GET", f"/reports/{rid}")
    assert [c["text"] for c in got["comments"]] == ["Nice curve"]

    code, edited = await bob("PATCH", f"/reports/{rid}", {"title": "Week one"})
    assert code == 200 and edited["title"] == "Week one" and edited["body"] == "# Loss\nwent down"
    code, err = await carol("PATCH", f"/reports/{rid}", {"title": "mine now"})
    assert code == 403 and "edit reports" in err["message"]
    code, err = await bob("PATCH", f"/reports/{rid}", {"author": "carol"})
    assert code == 422
    code, err = await bob("PATCH", f"/reports/{rid}", raw=b"not json")
    assert code == 400

    code, _ = await carol("DELETE", f"/reports/{rid}")
    assert code == 403
    code, _ = await bob("DELETE", f"/reports/{rid}")
    assert code == 204
    code, _ = await bob("GET", f"/reports/{rid}")
    assert code == 404
