"""One request may hold the database's write lock only briefly (issue 10,
item 9): a metrics write carries at most `ingest.MAX_POINTS_PER_CALL`
points, a bigger batch answers 413 naming the limit before the database is
touched, and while one key floods the server with batches another user's
one-point write still goes through in seconds, never answered 500."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from http_calls import call

from labdeck.backend.services import ingest, projects, runs


def body(start: int, points: int, keys: int = 100) -> bytes:
    values = {f"k{k}": 1.5 for k in range(keys)}
    samples = [{"t": float(start + i), "values": values} for i in range(points // keys)]
    return json.dumps({"samples": samples}).encode()


async def post(jp_fetch: Any, key: str, run_id: str, data: bytes) -> tuple[int, float, Any]:
    began = time.monotonic()
    response = await call(jp_fetch, key, "POST", f"/runs/{run_id}/metrics", data)
    return response.code, time.monotonic() - began, response


async def test_a_flood_of_big_batches_leaves_room_for_another_users_write(
    jp_fetch: Any, api_as: Any, make_user: Any, backend: Any
) -> None:
    flooder, other = make_user("flood"), make_user("calm")
    projects.create_project(backend, flooder, "flood", "p")
    projects.create_project(backend, other, "calm", "p")
    big_run = runs.create_run(backend, flooder, "flood", "p")["id"]
    small_run = runs.create_run(backend, other, "calm", "p")["id"]
    flood_key, calm_key = api_as(flooder).key, api_as(other).key

    # The flood: six 1M-point batches at once, from one key.
    huge = body(0, 1_000_000)
    code, _, response = await post(jp_fetch, flood_key, big_run, huge)
    assert code == 413, response.body
    assert f"{ingest.MAX_POINTS_PER_CALL}" in json.loads(response.body)["message"]

    # Six batches of the largest size allowed, and a one-point write among them.
    batches = [body(i * 10_000, ingest.MAX_POINTS_PER_CALL) for i in range(6)]
    flood = [post(jp_fetch, flood_key, big_run, data) for data in batches]
    await asyncio.sleep(0)

    async def one_point() -> tuple[int, float, Any]:
        await asyncio.sleep(0.5)  # once the flood holds the lock
        return await post(jp_fetch, calm_key, small_run, body(0, 1, keys=1))

    *answers, (calm_code, calm_took, _) = await asyncio.gather(*flood, one_point())
    assert calm_code == 200
    assert calm_took < 15.0, f"a one-point write waited {calm_took:.1f} s"
    assert all(code in (200, 503) for code, _, _ in answers), [a[0] for a in answers]
    for code, _, response in answers:
        if code == 503:
            assert int(response.headers["Retry-After"]) > 0
