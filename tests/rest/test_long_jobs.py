"""Long requests (exports, storage probes, artifact files) run on the
server's bounded pool for long jobs, so that short requests keep their
latency while they run (issue 10, item 8): the p99 of another user's
`GET /me` during six concurrent team exports stays within a generous bound
(the figures are printed: `pytest -s tests/rest/test_long_jobs.py`)."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import Any

import pytest

from labdeck.backend.errors import Unavailable
from labdeck.backend.services import ingest, projects, runs, teams
from labdeck.extension.long_jobs import QUEUE_PER_THREAD, LongJobs

EXPORTS = 6
POINTS = 300_000


async def test_short_requests_keep_their_latency_during_six_exports(
    jp_fetch: Any, api_as: Any, make_user: Any, backend: Any
) -> None:
    admin, bystander = make_user("root", admin=True), make_user("ann")
    teams.create_team(backend, admin, "lab", "work", "acme")
    projects.create_project(backend, admin, "lab", "big")
    run_id = runs.create_run(backend, admin, "lab", "big")["id"]
    keys = 50
    per_call = ingest.MAX_POINTS_PER_CALL // keys
    for start in range(0, POINTS // keys, per_call):
        samples = [
            {"t": float(start + i), "values": {f"k{k}": 1.0 for k in range(keys)}}
            for i in range(per_call)
        ]
        ingest.write_samples(backend, admin, run_id, samples)
    admin_key, my_key = api_as(admin).key, api_as(bystander).key

    async def export() -> tuple[int, float]:
        began = time.monotonic()
        response = await jp_fetch(
            "labdeck",
            "api",
            "teams",
            "lab",
            "export",
            headers={"Authorization": f"Bearer {admin_key}"},
            raise_error=False,
            request_timeout=600,
        )
        return response.code, time.monotonic() - began

    exporting = [asyncio.ensure_future(export()) for _ in range(EXPORTS)]
    latencies: list[float] = []
    await asyncio.sleep(0.2)
    while not all(job.done() for job in exporting):
        began = time.monotonic()
        response = await jp_fetch(
            "labdeck",
            "api",
            "me",
            headers={"Authorization": f"Bearer {my_key}"},
            raise_error=False,
            request_timeout=600,
        )
        assert response.code == 200
        latencies.append(time.monotonic() - began)
        await asyncio.sleep(0.05)
    done = [job.result() for job in exporting]
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(
        f"exports {[(c, round(t, 1)) for c, t in done]}; GET /me x{len(latencies)}: "
        f"p50 {statistics.median(latencies):.3f} s, p99 {p99:.3f} s, max {latencies[-1]:.3f} s"
    )
    assert all(code == 200 for code, _ in done)
    # Generous for a loaded 2-core machine (2.97 s seen with browser tests
    # running beside it); a request starved behind the exports waits for them.
    assert p99 < 4.0, f"GET /me p99 {p99:.2f} s during {EXPORTS} exports"


async def test_past_its_queue_the_long_pool_answers_503() -> None:
    jobs = LongJobs(1)
    release = threading.Event()
    admitted = [asyncio.ensure_future(jobs.run(release.wait)) for _ in range(1 + QUEUE_PER_THREAD)]
    await asyncio.sleep(0.1)
    with pytest.raises(Unavailable) as busy:
        await jobs.run(release.wait)
    assert busy.value.retry_after > 0
    release.set()
    assert all(await asyncio.gather(*admitted))
    assert await jobs.run(lambda: "room again") == "room again"
    jobs.shutdown()
