"""A service account's keys are its team admins' to manage, and every one of
them is listed (F-TM-6, F-ID-3): the account itself mints and revokes none."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Forbidden, NotFound, Unauthenticated
from labdeck.backend.services import apikeys, identity, members, service_accounts, teams


@pytest.fixture
def bot(backend: Backend, make_user: Callable[..., Actor]) -> tuple[Actor, Actor, Actor, str]:
    """(team admin, a member, the service account `vision.ci-bot`, its secret)."""
    root = make_user("root", admin=True)
    alice = make_user("alice")
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "alice", "member")
    secret = service_accounts.create_service_account(backend, root, "vision", "ci-bot")["secret"]
    return root, alice, identity.authenticate_key(backend, secret), secret


def test_a_service_account_cannot_mint_or_revoke_keys(
    backend: Backend, bot: tuple[Actor, Actor, Actor, str]
) -> None:
    root, _alice, account, _secret = bot
    with pytest.raises(Forbidden):
        apikeys.create_key(backend, account, "more")
    (key,) = apikeys.list_keys(backend, account)
    with pytest.raises(Forbidden):
        apikeys.revoke_key(backend, account, key["id"])
    (listed,) = service_accounts.list_service_accounts(backend, root, "vision")
    assert [k["prefix"] for k in listed["keys"]] == [key["prefix"]]


def test_team_admins_mint_list_and_revoke_every_key(
    backend: Backend, bot: tuple[Actor, Actor, Actor, str]
) -> None:
    root, alice, _account, first = bot
    second = service_accounts.create_service_account_key(backend, root, "vision", "ci-bot")
    assert second["secret"].startswith("ldk_")
    (listed,) = service_accounts.list_service_accounts(backend, root, "vision")
    assert [k["prefix"] for k in listed["keys"]] == [
        first[: len(second["prefix"])],
        second["prefix"],
    ]
    assert "secret" not in repr(listed)
    for call in (
        lambda: service_accounts.create_service_account_key(backend, alice, "vision", "ci-bot"),
        lambda: service_accounts.revoke_service_account_key(
            backend, alice, "vision", "ci-bot", second["id"]
        ),
    ):
        with pytest.raises(Forbidden):
            call()
    service_accounts.revoke_service_account_key(backend, root, "vision", "ci-bot", second["id"])
    with pytest.raises(Unauthenticated):
        identity.authenticate_key(backend, second["secret"])
    with pytest.raises(NotFound):
        service_accounts.revoke_service_account_key(backend, root, "vision", "ci-bot", second["id"])
    (listed,) = service_accounts.list_service_accounts(backend, root, "vision")
    assert len(listed["keys"]) == 1


def test_keys_minted_before_are_all_listed(
    backend: Backend, bot: tuple[Actor, Actor, Actor, str]
) -> None:
    """Keys an account minted for itself before this rule (or an operator's
    `labdeck key create`) are shown to the admins, and revocable by them."""
    root, _alice, account, _secret = bot
    with backend.db.transaction() as session:
        extra, _ = apikeys.issue_key(session, account.user_id, "minted by itself")
    (listed,) = service_accounts.list_service_accounts(backend, root, "vision")
    assert extra.prefix in [k["prefix"] for k in listed["keys"]]
    service_accounts.revoke_service_account_key(backend, root, "vision", "ci-bot", extra.id)
