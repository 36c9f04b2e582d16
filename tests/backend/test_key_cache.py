"""API key → account remembered for `api_key_cache_seconds` (issue 9,
"Scale"): a kernel's requests skip the lookup, and the revocation bound is
what docs/hub.md and `keycache` say: none in the process that revoked
(whichever `Backend` of the database it used), the cache's lifetime in
another process (played here by a revocation written straight to the
database, which no service of this process saw)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from sqlalchemy import update
from statements import statements

from labdeck.backend import keycache
from labdeck.backend.context import Backend
from labdeck.backend.db import Database
from labdeck.backend.errors import Unauthenticated
from labdeck.backend.models import ApiKey
from labdeck.backend.services import account, apikeys, identity


@pytest.fixture(autouse=True)
def own_key_caches() -> Any:
    """A process shares one cache per database URL, whose lifetime is the
    shortest any Backend asked for; the short lifetimes these tests ask for
    must not stay with the URL (PostgreSQL's test database) for later tests:
    these tests start with no shared cache (a later test's server would
    otherwise keep the very cache object whose lifetime they shortened)."""
    before = dict(keycache._SHARED)
    keycache._SHARED.clear()
    yield
    keycache._SHARED.clear()
    keycache._SHARED.update(before)


def test_a_key_resolved_lately_costs_no_statement(backend: Backend, make_user: Any) -> None:
    kim = make_user("kim")
    secret = apikeys.create_key(backend, kim, "kernel")["secret"]
    assert identity.cached_key(backend, secret) is None
    with statements(backend.db.engine) as first:
        assert identity.authenticate_key(backend, secret) == kim
    assert first  # looked up in the database once
    with statements(backend.db.engine) as again:
        assert identity.authenticate_key(backend, secret) == kim
        assert identity.cached_key(backend, secret) == kim
    assert again == []


def test_a_key_revoked_in_this_process_stops_at_once(
    backend: Backend, database_url: str, make_user: Any
) -> None:
    kim = make_user("kim")
    key = apikeys.create_key(backend, kim, "kernel")
    # The server's backend and the one the revoking service uses are two objects.
    server = Backend(Database(database_url), backend.settings)
    try:
        assert identity.authenticate_key(server, key["secret"]) == kim
        apikeys.revoke_key(backend, kim, key["id"])
        assert identity.cached_key(server, key["secret"]) is None
        with pytest.raises(Unauthenticated):
            identity.authenticate_key(server, key["secret"])
    finally:
        server.db.dispose()


def test_a_deleted_account_s_key_stops_at_once(backend: Backend, make_user: Any) -> None:
    kim = make_user("kim")
    secret = apikeys.create_key(backend, kim, "kernel")["secret"]
    assert identity.authenticate_key(backend, secret) == kim
    account.delete_account(backend, kim, "kim")
    with pytest.raises(Unauthenticated):
        identity.authenticate_key(backend, secret)


def test_another_process_s_revocation_holds_within_the_cache_lifetime(
    database_url: str, settings: Any, make_user: Any, backend: Backend
) -> None:
    quick = Backend(
        Database(database_url), dataclasses.replace(settings, api_key_cache_seconds=0.5)
    )
    try:
        kim = make_user("kim")
        secret = apikeys.create_key(backend, kim, "kernel")["secret"]
        assert identity.authenticate_key(quick, secret) == kim
        with quick.db.transaction() as session:  # as another server process would
            session.execute(update(ApiKey).values(revoked_at=ApiKey.created_at))
        assert identity.authenticate_key(quick, secret) == kim  # remembered: the bound
        time.sleep(0.6)
        with pytest.raises(Unauthenticated):
            identity.authenticate_key(quick, secret)
    finally:
        quick.db.dispose()


def test_a_lookup_that_raced_a_revocation_is_not_remembered(
    backend: Backend, make_user: Any
) -> None:
    kim = make_user("kim")
    key = apikeys.create_key(backend, kim, "kernel")
    cache = backend.key_cache
    generation = cache.generation  # a lookup starts and reads the key as live…
    apikeys.revoke_key(backend, kim, key["id"])  # …the revocation commits meanwhile…
    cache.put("stale-answer", kim.user_id, generation)  # …and its answer comes late
    assert cache.get("stale-answer") is None


def test_no_cache_when_its_lifetime_is_zero(tmp_path: Any, settings: Any, make_user: Any) -> None:
    off = Backend(
        Database(f"sqlite:///{tmp_path}/off.db"),
        dataclasses.replace(settings, api_key_cache_seconds=0.0),
    )
    try:
        off.db.upgrade()
        kim = identity.create_user(off, "kim", email="kim@example.org")
        secret = apikeys.create_key(off, kim, "kernel")["secret"]
        assert identity.authenticate_key(off, secret) == kim
        assert identity.cached_key(off, secret) is None
    finally:
        off.db.dispose()
