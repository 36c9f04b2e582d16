"""Over HTTP: a service account's key mints no keys; its team admins mint,
list and revoke them (F-TM-6, F-ID-3)."""

from __future__ import annotations

from typing import Any

import jsonschema

from labdeck.extension import schemas


async def test_only_team_admins_manage_a_service_accounts_keys(
    api_as: Any, api_with: Any, make_user: Any
) -> None:
    ann = make_user("ann", admin=True)
    api = api_as(ann)
    code, _ = await api("POST", "/teams", {"name": "lab", "type": "work", "organization": "org1"})
    assert code == 201
    code, account = await api("POST", "/teams/lab/service-accounts", {"name": "ci-bot"})
    assert code == 201
    robot = api_with(account["secret"])

    code, err = await robot("POST", "/me/api-keys", {"name": "more"})
    assert code == 403, err
    code, own = await robot("GET", "/me/api-keys")
    assert code == 200 and len(own) == 1
    code, err = await robot("DELETE", f"/me/api-keys/{own[0]['id']}")
    assert code == 403, err

    code, second = await api("POST", "/teams/lab/service-accounts/ci-bot/keys")
    assert code == 201, second
    jsonschema.validate(second, schemas.API_KEY_CREATED)
    code, listed = await api("GET", "/teams/lab/service-accounts")
    assert code == 200
    jsonschema.validate(listed, schemas.array(schemas.SERVICE_ACCOUNT))
    assert [k["id"] for k in listed[0]["keys"]] == [own[0]["id"], second["id"]]
    code, _ = await api("DELETE", f"/teams/lab/service-accounts/ci-bot/keys/{own[0]['id']}")
    assert code == 204
    code, _ = await robot("GET", "/me/api-keys")
    assert code == 401
    code, _ = await api_with(second["secret"])("GET", "/teams")
    assert code == 200
