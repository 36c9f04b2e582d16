from __future__ import annotations

from labdeck.backend.services import apikeys, identity


def test_key_roundtrip(backend, make_user):
    alice = make_user("alice", admin=True)
    created = apikeys.create_key(backend, alice, "laptop")
    assert identity.authenticate_key(backend, created["secret"]) == alice
