"""Profile (F-US-1) and profile image (F-US-2)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from labdeck.backend.context import Backend
from labdeck.backend.errors import Invalid, Malformed, NotFound, TooLarge, Unauthenticated
from labdeck.backend.images import MAX_IMAGE_BYTES
from labdeck.backend.models import User
from labdeck.backend.services import identity, profile


def png(colour: tuple[int, int, int] = (255, 0, 0), size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def user_row(backend: Backend, user_id: int) -> dict[str, Any]:
    with backend.db.reader() as session:
        user = session.get(User, user_id)
        assert user is not None
        return {c.key: getattr(user, c.key) for c in User.__table__.columns}


def test_a_new_profile_is_empty_and_says_the_account_type(backend, make_user):
    alice = make_user("alice", admin=True)
    bob = make_user("bob")
    assert profile.get_profile(backend, alice) == {
        "username": "alice",
        "name": "",
        "institution": "",
        "bio": "",
        "location": "",
        "website": "",
        "account_type": "admin",
        "avatar_url": None,
    }
    assert profile.get_profile(backend, bob)["account_type"] == "user"


def test_update_saves_the_five_fields_and_only_touches_what_is_named(backend, make_user):
    alice = make_user("alice")
    changed = profile.update_profile(
        backend,
        alice,
        {
            "name": "  Alice Liddell ",
            "institution": "Oxford",
            "bio": "Line one\n\n<b>not bold</b> & <script>alert(1)</script>",
            "location": "Wonderland",
            "website": "https://alice.example.org/about?x=1",
        },
    )
    assert changed["name"] == "Alice Liddell"
    # Plain text, kept as typed: escaping is the renderer's job, not storage's.
    assert changed["bio"] == "Line one\n\n<b>not bold</b> & <script>alert(1)</script>"
    assert profile.get_profile(backend, alice) == changed
    again = profile.update_profile(backend, alice, {"location": ""})
    assert again["location"] == "" and again["institution"] == "Oxford"
    assert profile.update_profile(backend, alice, {}) == again


def test_limits_are_inclusive(backend, make_user):
    alice = make_user("alice")
    fields = {"name": "n" * 128, "institution": "i" * 128, "location": "l" * 128}
    result = profile.update_profile(backend, alice, fields | {"bio": "b" * 2000})
    assert len(result["bio"]) == 2000 and len(result["name"]) == 128
    assert profile.update_profile(backend, alice, {"website": "http://x.org"})["website"]


BAD_CHANGES = [
    ({"name": "n" * 129}, "name"),
    ({"institution": "i" * 129}, "institution"),
    ({"location": "l" * 129}, "location"),
    ({"bio": "b" * 2001}, "bio"),
    ({"name": "two\nlines"}, "name"),
    ({"location": "tab\x07bell"}, "location"),
    ({"bio": "escape \x1b[31m codes"}, "bio"),
    ({"name": "nul\x00byte"}, "name"),
    ({"name": 42}, "name"),
    ({"bio": None}, "bio"),
    ({"website": "javascript:alert(1)"}, "website"),
    ({"website": "JaVaScRiPt:alert(1)"}, "website"),
    ({"website": "data:text/html,<script>alert(1)</script>"}, "website"),
    ({"website": "ftp://example.org"}, "website"),
    ({"website": "http://"}, "website"),
    ({"website": "//evil.example.org"}, "website"),
    ({"website": "example.org"}, "website"),
    ({"website": "https://x.org/" + "a" * 600}, "website"),
    ({"username": "root"}, "username"),
    ({"account_type": "admin"}, "account_type"),
    ({"avatar_png": "x"}, "avatar_png"),
    ({"deleted": True}, "deleted"),
    # One good field next to a bad one: nothing at all may be saved.
    ({"name": "Fine", "website": "javascript:void(0)"}, "website"),
    ({"name": "Fine", "github_token": "t"}, "github_token"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_CHANGES)
def test_bad_changes_are_refused_naming_the_field_and_change_nothing(
    backend, make_user, changes, field
):
    alice = make_user("alice")
    profile.update_profile(backend, alice, {"name": "Alice", "website": "https://a.org"})
    before = user_row(backend, alice.user_id)
    with pytest.raises(Invalid) as err:
        profile.update_profile(backend, alice, changes)
    assert err.value.field == field
    assert err.value.message
    assert user_row(backend, alice.user_id) == before


@pytest.mark.parametrize("body", [None, ["name", "x"], "name=x", 3])
def test_a_body_that_is_not_an_object_is_malformed(backend, make_user, body):
    alice = make_user("alice")
    with pytest.raises(Malformed):
        profile.update_profile(backend, alice, body)


def test_avatar_upload_read_by_others_and_delete(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    assert profile.set_avatar(backend, alice, png())["avatar_url"] == (
        "/labdeck/api/users/alice/avatar"
    )
    assert profile.get_profile(backend, alice)["avatar_url"] == "/labdeck/api/users/alice/avatar"
    stored = profile.get_avatar(backend, bob, "alice")
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.size == (256, 256)
    assert profile.get_avatar(backend, alice, "ALICE") == stored
    assert profile.delete_avatar(backend, alice)["avatar_url"] is None
    with pytest.raises(NotFound):
        profile.get_avatar(backend, bob, "alice")
    # Deleting again is harmless.
    assert profile.delete_avatar(backend, alice)["avatar_url"] is None


def test_avatar_of_a_user_without_one_or_of_nobody_is_not_found(backend, make_user):
    alice = make_user("alice")
    make_user("bob")
    for name in ("bob", "nobody"):
        with pytest.raises(NotFound):
            profile.get_avatar(backend, alice, name)
    with pytest.raises(Invalid):
        profile.get_avatar(backend, alice, "../../etc/passwd")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"GIF89a but not really", Invalid),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", Invalid),
        (b"", Invalid),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES, TooLarge),
    ],
)
def test_a_bad_upload_keeps_the_current_avatar(backend, make_user, data, error):
    alice = make_user("alice")
    profile.set_avatar(backend, alice, png((0, 0, 255)))
    before = user_row(backend, alice.user_id)
    with pytest.raises(error) as err:
        profile.set_avatar(backend, alice, data)
    assert err.value.field == "avatar"
    assert user_row(backend, alice.user_id) == before


def test_replacing_the_avatar_replaces_the_picture(backend, make_user):
    alice = make_user("alice")
    profile.set_avatar(backend, alice, png((255, 0, 0)))
    first = profile.get_avatar(backend, alice, "alice")
    profile.set_avatar(backend, alice, png((0, 255, 0)))
    second = profile.get_avatar(backend, alice, "alice")
    assert first != second
    assert Image.open(io.BytesIO(second)).convert("RGB").getpixel((128, 128)) == (0, 255, 0)


def test_a_deleted_account_cannot_read_or_write_and_its_avatar_is_gone(backend, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    profile.set_avatar(backend, alice, png())
    with backend.db.transaction() as session:
        user = session.get(User, alice.user_id)
        assert user is not None
        user.deleted = True
    for call in (
        lambda: profile.get_profile(backend, alice),
        lambda: profile.update_profile(backend, alice, {"name": "x"}),
        lambda: profile.set_avatar(backend, alice, png()),
        lambda: profile.delete_avatar(backend, alice),
        lambda: profile.get_avatar(backend, alice, "bob"),
    ):
        with pytest.raises(Unauthenticated):
            call()
    with pytest.raises(NotFound):
        profile.get_avatar(backend, bob, "alice")


def test_profile_reads_do_not_load_the_image_bytes(backend, make_user):
    """The avatar column is deferred; the profile only asks whether one exists."""
    alice = make_user("alice")
    profile.set_avatar(backend, alice, png())
    statements: list[str] = []
    from sqlalchemy import event

    def record(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        statements.append(statement)

    event.listen(backend.db.engine, "before_cursor_execute", record)
    try:
        profile.get_profile(backend, alice)
    finally:
        event.remove(backend.db.engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects
    assert not any("avatar_png AS" in s or "users.avatar_png," in s for s in selects)


def test_the_first_sight_user_has_a_profile(backend):
    actor = identity.ensure_user(backend, "Jane Doe")
    assert profile.get_profile(backend, actor)["username"] == "jane-doe"
    with backend.db.reader() as session:
        assert session.scalar(select(User.username).where(User.id == actor.user_id)) == "jane-doe"
