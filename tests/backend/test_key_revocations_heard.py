"""Keys revoked by another process are forgotten as they commit, on
PostgreSQL (migration 0008, `revocations`): the database announces every
change that stops a key working, whoever writes it, and nothing else; a
server's listener forgets its keys at each announcement, and while it
cannot hear (not yet connected, connection cut, database unreachable) its
cache is not trusted at all. Real PostgreSQL, a real LISTEN connection;
"another process" is a write the server's backend never saw."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from servers import free_port
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import make_url

from labdeck.backend import keycache
from labdeck.backend.context import Actor, Backend
from labdeck.backend.db import Database
from labdeck.backend.models import ApiKey, User
from labdeck.backend.revocations import CHANNEL, RevocationListener
from labdeck.backend.services import account, apikeys, identity

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
log = logging.getLogger("test")


@pytest.fixture(autouse=True)
def own_key_caches() -> Iterator[None]:
    """These tests distrust and trust caches: none of it stays with the
    process's shared cache of the test database."""
    before = dict(keycache._SHARED)
    keycache._SHARED.clear()
    yield
    keycache._SHARED.clear()
    keycache._SHARED.update(before)


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the time allowed"
        time.sleep(0.01)
    return time.monotonic() - started


def _announcements(database_url: str, write: Callable[[], object]) -> int:
    """How many announcements on the channel `write` causes (a LISTEN
    connection of its own)."""
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        write()
        return len(list(conn.notifies(timeout=0.5)))


def _sql(database_url: str, statement: Any) -> Callable[[], None]:
    def run() -> None:
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(statement)
        engine.dispose()

    return run


def test_the_database_announces_what_stops_a_key_and_nothing_else(
    database_url: str, backend: Backend, make_user: Callable[..., Actor]
) -> None:
    kim, lee, max_ = make_user("kim"), make_user("lee"), make_user("max")
    kim_key = apikeys.create_key(backend, kim, "kernel")
    lee_key = apikeys.create_key(backend, lee, "kernel")["secret"]
    apikeys.create_key(backend, max_, "kernel")
    # Using a key stamps last_used_at: no announcement, or every use would
    # wipe every process's cache.
    assert _announcements(database_url, lambda: identity.authenticate_key(backend, lee_key)) == 0
    stamp = update(ApiKey).values(last_used_at=ApiKey.created_at)
    assert _announcements(database_url, _sql(database_url, stamp)) == 0
    # The service's revocation, and the same by hand in SQL.
    revoke = lambda: apikeys.revoke_key(backend, kim, kim_key["id"])  # noqa: E731
    assert _announcements(database_url, revoke) == 1
    by_hand = (
        update(ApiKey).where(ApiKey.user_id == lee.user_id).values(revoked_at=ApiKey.created_at)
    )
    assert _announcements(database_url, _sql(database_url, by_hand)) == 1
    # A deleted account; a removed key; a removed account (its keys cascade).
    assert _announcements(database_url, lambda: account.delete_account(backend, kim, "kim")) == 1
    removed = delete(ApiKey).where(ApiKey.user_id == lee.user_id)
    assert _announcements(database_url, _sql(database_url, removed)) == 1
    gone = delete(User).where(User.id == max_.user_id)
    assert _announcements(database_url, _sql(database_url, gone)) == 1
    # A rolled-back revocation is never announced.
    engine = create_engine(database_url)

    def rolled_back() -> None:
        with engine.connect() as conn:
            conn.execute(update(ApiKey).values(revoked_at=None))
            conn.rollback()

    assert _announcements(database_url, rolled_back) == 0
    engine.dispose()


@dataclass
class Server:
    backend: Backend
    listener: RevocationListener
    kim: Actor
    secret: str


@pytest.fixture
def server(
    database_url: str, settings: Any, backend: Backend, make_user: Callable[..., Actor]
) -> Iterator[Server]:
    """A server process's backend (its own Database, a 600 s cache lifetime)
    with its listener heard to LISTEN, and kim's key, looked up and cached."""
    kim = make_user("kim")
    secret = apikeys.create_key(backend, kim, "kernel")["secret"]
    served = Backend(
        Database(database_url), dataclasses.replace(settings, api_key_cache_seconds=600)
    )
    listener = RevocationListener(served.db.engine, served.key_cache, log)
    try:
        listener.start()
        assert listener.listening.wait(10)
        assert identity.authenticate_key(served, secret) == kim
        assert identity.cached_key(served, secret) == kim
        yield Server(served, listener, kim, secret)
    finally:
        listener.stop()
        served.db.dispose()


def test_a_listening_server_forgets_a_key_revoked_elsewhere_as_it_commits(
    database_url: str, server: Server
) -> None:
    # Another process revokes, in SQL: no service of this process sees it.
    _sql(database_url, update(ApiKey).values(revoked_at=ApiKey.created_at))()
    took = _wait(lambda: identity.cached_key(server.backend, server.secret) is None, timeout=2.0)
    assert took < 1.0


def test_while_the_listener_cannot_hear_nothing_is_remembered(server: Server) -> None:
    cached = lambda: identity.cached_key(server.backend, server.secret)  # noqa: E731
    # The listener's connection dies (the database restarted, say).
    with server.backend.db.engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = :listen"
            ),
            {"listen": f"LISTEN {CHANNEL}"},
        ).all()
    assert killed == [(True,)]
    _wait(lambda: not server.listener.listening.is_set() or cached() is None)
    assert cached() is None
    # It comes back by itself, and only then are keys remembered again.
    assert server.listener.listening.wait(15)
    assert identity.authenticate_key(server.backend, server.secret) == server.kim
    assert cached() == server.kim


def test_an_unreachable_database_leaves_the_cache_untrusted(
    database_url: str, settings: Any
) -> None:
    nowhere = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    server = Backend(nowhere, dataclasses.replace(settings, api_key_cache_seconds=600))
    listener = RevocationListener(server.db.engine, server.key_cache, log)
    try:
        listener.start()
        time.sleep(1.0)
        assert not listener.listening.is_set()
        server.key_cache.put("some-key-hash", 7, server.key_cache.generation)
        assert server.key_cache.get("some-key-hash") is None
    finally:
        listener.stop()
        server.db.dispose()
