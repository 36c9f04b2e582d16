"""Distinct people stay distinct (F-ID-1): an external name (Hub user, OS
user, Jupyter user) maps to exactly one account and two different names
never to the same one. Each example of issue 9, on SQLite and PostgreSQL,
plus first sightings racing on real concurrent connections."""

from __future__ import annotations

import dataclasses
import threading
import unicodedata
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text

from labdeck.backend.context import Actor, Backend
from labdeck.backend.db import Database
from labdeck.backend.errors import Invalid
from labdeck.backend.migrate import upgrade
from labdeck.backend.models import User
from labdeck.backend.names import derive_handle, key
from labdeck.backend.services import account, identity, profile, teams


def user_row(backend: Backend, actor: Actor) -> User:
    with backend.db.reader() as session:
        user = session.get(User, actor.user_id)
        assert user is not None
        session.expunge(user)
        return user


def people(backend: Backend) -> int:
    with backend.db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def test_jose_is_not_jos(backend):
    jos = identity.ensure_user(backend, "jos")
    jose = identity.ensure_user(backend, "josé")
    assert jose != jos
    row = user_row(backend, jose)
    assert row.external_name == "josé" and row.username == "jose"
    # The decomposed spelling of the same name is the same person (NFC).
    assert identity.ensure_user(backend, unicodedata.normalize("NFD", "josé")) == jose
    assert identity.ensure_user(backend, "jos") == jos


def test_two_scripts_that_fold_to_nothing_are_two_accounts(backend):
    nihon = identity.ensure_user(backend, "日本")
    delta = identity.ensure_user(backend, "δ")
    assert nihon != delta
    handles = {user_row(backend, nihon).username, user_row(backend, delta).username}
    assert handles == {"user", "user-2"}
    assert user_row(backend, nihon).external_name == "日本"
    assert user_row(backend, delta).external_name == "δ"
    # Each comes back to its own account; Greek capital delta is delta.
    assert identity.ensure_user(backend, "日本") == nihon
    assert identity.ensure_user(backend, "Δ") == delta


def test_an_email_like_name_is_kept_as_given(backend):
    obrien = identity.ensure_user(backend, "o'brien@uni.edu")
    dashed = identity.ensure_user(backend, "o-brien@uni.edu")
    assert obrien != dashed
    assert user_row(backend, obrien).external_name == "o'brien@uni.edu"
    assert user_row(backend, obrien).username == "o-brien-uni.edu"
    assert user_row(backend, dashed).username == "o-brien-uni.edu-2"


def test_alice_bang_never_becomes_the_admin_alice(backend, make_user):
    alice = make_user("alice", admin=True)
    bang = identity.ensure_user(backend, "alice!")
    assert bang != alice
    row = user_row(backend, bang)
    assert row.username == "alice-2" and row.account_type == "user"
    assert row.external_name == "alice!"
    assert profile.get_profile(backend, alice)["account_type"] == "admin"
    # The operator-made account is the one `alice` signs in to, in any case.
    assert identity.ensure_user(backend, "alice") == alice
    assert identity.ensure_user(backend, "ALICE") == alice


def test_case_is_one_identity_everything_else_is_not(backend):
    first = identity.ensure_user(backend, "Straße")
    assert identity.ensure_user(backend, "STRASSE") == first  # casefold: ß is ss
    assert identity.ensure_user(backend, "strasse") == first
    assert identity.ensure_user(backend, "Strasse ") != first  # a trailing space is kept
    assert identity.ensure_user(backend, "Jane Doe") != identity.ensure_user(backend, "jane-doe")


def test_a_handle_never_collides_with_a_team(backend, make_user):
    root = make_user("root", admin=True)
    teams.create_team(backend, root, "vision", "work", "acme")
    person = identity.ensure_user(backend, "Vision")
    assert user_row(backend, person).username == "vision-2"


def test_a_service_account_handle_is_not_someone_elses_account(backend, make_user):
    root = make_user("root", admin=True)
    teams.create_team(backend, root, "vision", "work", "acme")
    from labdeck.backend.services import service_accounts

    created = service_accounts.create_service_account(backend, root, "vision", "ci-bot")
    bot = identity.authenticate_key(backend, created["secret"])
    person = identity.ensure_user(backend, "vision.ci-bot")
    assert person != bot
    row = user_row(backend, person)
    assert row.account_type == "user" and row.username == "vision.ci-bot-2"


def test_reserved_and_unusable_names(backend):
    tomb = identity.ensure_user(backend, "deleted-user-7")
    assert user_row(backend, tomb).username == "user-deleted-user-7"
    for bad in ("", "   ", "a\x00b", "tab\tname", "x" * 256):
        with pytest.raises(Invalid):
            identity.ensure_user(backend, bad)


def test_long_names_get_suffixes_within_64(backend):
    base = "a" * 80
    first = user_row(backend, identity.ensure_user(backend, base)).username
    second = user_row(backend, identity.ensure_user(backend, base + "!")).username
    assert first == "a" * 64 and second == "a" * 62 + "-2"


def test_a_deleted_account_frees_its_name(backend):
    alice = identity.ensure_user(backend, "Alice")
    account.delete_account(backend, alice, user_row(backend, alice).username)
    again = identity.ensure_user(backend, "alice")
    assert again != alice
    assert user_row(backend, alice).external_key is None


def test_admin_users_are_compared_casefolded(backend, settings):
    configured = Backend(
        backend.db, dataclasses.replace(settings, admin_users=frozenset({key("José")}))
    )
    identity.ensure_user(configured, "first")  # the fresh database's admin
    jose = identity.ensure_user(configured, "JOSÉ")
    jos = identity.ensure_user(configured, "jos")
    assert user_row(backend, jose).account_type == "admin"
    assert user_row(backend, jos).account_type == "user"


def test_a_hub_decides_who_is_admin_both_ways(backend):
    # Under a Hub the first person is not an admin for being first.
    bob = identity.ensure_user(backend, "bob", hub_admin=False)
    assert user_row(backend, bob).account_type == "user"
    alice = identity.ensure_user(backend, "alice", hub_admin=True)
    assert user_row(backend, alice).account_type == "admin"
    assert identity.ensure_user(backend, "alice", hub_admin=False) == alice
    assert user_row(backend, alice).account_type == "user"
    # Without a Hub speaking, an account keeps its type.
    identity.ensure_user(backend, "bob", hub_admin=True)
    assert identity.ensure_user(backend, "bob") == bob
    assert user_row(backend, bob).account_type == "admin"


def test_derive_handle_examples():
    assert derive_handle("josé") == "jose"
    assert derive_handle("Jane Doe") == "jane-doe"
    assert derive_handle("o'brien@uni.edu") == "o-brien-uni.edu"
    assert derive_handle("alice!") == "alice"
    assert derive_handle("日本") == derive_handle("δ") == "user"
    assert derive_handle("..x..") == "x"


def test_existing_accounts_keep_signing_in_after_the_migration(tmp_path):
    """Revision 0005 gives every person of an older database their handle as
    external name; service accounts and tombstones get none."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0002")
    with db.engine.begin() as conn:
        for name, kind, deleted in (
            ("alice", "admin", False),
            ("vision.ci", "service", False),
            ("deleted-user-3", "user", True),
        ):
            conn.execute(
                text(
                    "INSERT INTO users (username, account_type, name, institution, bio, "
                    "location, website, slack_webhook_url, deleted, created_at) VALUES "
                    "(:n, :k, '', '', '', '', '', '', :d, '2026-01-01 00:00:00')"
                ),
                {"n": name, "k": kind, "d": deleted},
            )
    db.upgrade()
    backend = Backend(db)
    with db.reader() as session:
        rows = {u.username: u.external_key for u in session.scalars(select(User))}
    assert rows == {"alice": "alice", "vision.ci": None, "deleted-user-3": None}
    alice = identity.actor_for(backend, "alice")
    assert identity.ensure_user(backend, "Alice") == alice
    assert identity.ensure_user(backend, "vision.ci") != identity.actor_for(backend, "vision.ci")
    db.dispose()


def race(backend: Backend, calls: list[Callable[[Backend], Actor]]) -> list[Actor]:
    """Run each call at once, each on its own connection pool."""
    backends = [Backend(Database(backend.db.url), backend.settings) for _ in calls]
    barrier = threading.Barrier(len(calls))
    results: list[Actor | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i](backends[i])
        except BaseException as exc:  # reported below, with the round
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for b in backends:
        b.db.dispose()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return [r for r in results if isinstance(r, Actor)]


@pytest.mark.postgres
def test_first_sightings_of_one_name_at_once_make_one_account(backend):
    for round_ in range(15):
        name = f"Racer{round_}"
        spellings = [name, name.lower(), name.upper(), name]
        actors = race(backend, [lambda b, s=s: identity.ensure_user(b, s) for s in spellings])
        assert len(set(actors)) == 1, f"round {round_}: {actors}"
    assert people(backend) == 15


@pytest.mark.postgres
def test_distinct_names_racing_for_one_handle_get_distinct_accounts(backend):
    for round_ in range(10):
        base = f"dup{round_}"
        spellings = [base, f"{base}!", f"{base}?", f"{base}#"]
        actors = race(backend, [lambda b, s=s: identity.ensure_user(b, s) for s in spellings])
        assert len(set(actors)) == 4, f"round {round_}"
        handles = {user_row(backend, a).username for a in actors}
        assert handles == {base, f"{base}-2", f"{base}-3", f"{base}-4"}
