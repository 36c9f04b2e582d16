"""Over HTTP: adding an address tells nobody whether another account has it,
and verification mails answer 429 with Retry-After past their limits."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from labdeck.backend.models import Notification


async def test_adding_an_address_answers_alike_whoever_has_it(
    api_as: Any, make_user: Any, backend: Any
) -> None:
    make_user("frank", email="frank@corp.example")
    eve = api_as(make_user("eve"))
    code, taken = await eve("POST", "/me/emails", {"address": "frank@corp.example"})
    assert code == 201, taken
    code, free = await eve("POST", "/me/emails", {"address": "nobody@corp.example"})
    assert code == 201, free

    def shape(view: dict[str, Any]) -> Any:
        # The answer names the address it was given, and nothing else differs.
        kept = {k: v for k, v in view.items() if k not in ("id", "address")}
        return json.loads(json.dumps(kept).replace(view["address"], "ADDRESS"))

    assert shape(taken) == shape(free)
    with backend.db.reader() as session:
        to_frank = session.scalar(
            select(func.count()).where(Notification.recipient == "frank@corp.example")
        )
    assert to_frank == 0


async def test_an_add_and_delete_loop_is_refused_with_retry_after(
    api_as: Any, make_user: Any, jp_fetch: Any
) -> None:
    eve = api_as(make_user("eve"))
    code, added = await eve("POST", "/me/emails", {"address": "stranger@corp.example"})
    assert code == 201
    code, _ = await eve("DELETE", f"/me/emails/{added['id']}")
    assert code == 204
    response = await jp_fetch(
        "labdeck",
        "api",
        "me",
        "emails",
        method="POST",
        body='{"address": "stranger@corp.example"}',
        headers={"Authorization": f"Bearer {eve.key}"},
        raise_error=False,
    )
    assert response.code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
