"""The recorder in client mode (`Recorder` over `RestClient`) against a real
HTTP server on 127.0.0.1 that stores points as the service does (a point
already held at the same time is a duplicate), goes away, and comes back on
the same port: the backlog is bounded, the oldest samples are dropped and
counted, and everything kept is written once the server is back."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from peers import Answer, Peer

from labdeck.client.rest import RestClient
from labdeck.kernel.recorder import Recorder


class Service:
    """The metrics and heartbeat routes of one running run, in memory."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, float], float] = {}
        self.heartbeats = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        if headers.get("Authorization") != "token kernel-token":
            return 401, {}, {"error": "unauthenticated", "message": "who?"}
        if re.fullmatch(r"/services/labdeck/labdeck/api/runs/r1/heartbeat", path):
            self.heartbeats += 1
            return 200, {}, {"id": "r1", "state": "running", "heartbeat_at": "now"}
        if method == "POST" and path == "/services/labdeck/labdeck/api/runs/r1/metrics":
            written = duplicates = 0
            with self.lock:
                for sample in body["samples"]:
                    for key, value in sample["values"].items():
                        if (key, sample["t"]) in self.points:
                            duplicates += 1
                        else:
                            self.points[(key, sample["t"])] = value
                            written += 1
            return 200, {}, {"written": written, "duplicates": duplicates}
        return 404, {}, {"error": "not_found", "message": path}


@pytest.fixture
def service() -> Iterator[tuple[Service, Peer]]:
    state = Service()
    peer = Peer(state).start()
    yield state, peer
    peer.stop()


def test_the_backlog_is_bounded_and_caught_up_when_the_service_returns(
    service: tuple[Service, Peer],
) -> None:
    state, peer = service
    client = RestClient(peer.url, "token kernel-token", timeout=5)
    recorder = Recorder(client, "r1", flush_interval=3600, max_pending=25)
    for t in range(10):
        recorder(float(t), {"cpu": float(t)})
    assert recorder.flush() and recorder.samples_written == 10
    assert recorder.flush() and state.heartbeats == 1  # nothing buffered: a heartbeat

    peer.stop()  # the service goes away: its port refuses connections
    for t in range(10, 50):
        recorder(float(t), {"cpu": float(t)})
        if t % 10 == 0:
            assert not recorder.flush()  # kept for the next try, not lost yet
    assert recorder.failing is not None and "cannot be reached" in recorder.failing
    # 40 samples taken during the outage, 25 kept: the 15 oldest dropped and counted.
    assert recorder.pending == 25 and recorder.dropped == 15

    peer.start()  # back, on the same port
    recorder(50.0, {"cpu": 50.0})  # still bounded: one more of the oldest goes
    assert recorder.dropped == 16
    assert recorder.flush() and recorder.failing is None and recorder.pending == 0
    stored = sorted(t for (_, t) in state.points)
    assert stored == [float(t) for t in [*range(10), *range(26, 51)]]
    # Points in = points stored: what was taken, less exactly what was counted as dropped.
    assert len(stored) == 51 - recorder.dropped
    assert recorder.samples_written == len(stored)


def test_a_batch_sent_again_after_a_lost_answer_is_counted_once(
    service: tuple[Service, Peer],
) -> None:
    state, peer = service
    client = RestClient(peer.url, "token kernel-token", timeout=5)
    samples = [{"t": float(t), "values": {"cpu": 1.0, "ram": 2.0}} for t in range(5)]
    assert client.write_samples("r1", samples) == {"written": 10, "duplicates": 0}
    assert client.write_samples("r1", samples) == {"written": 0, "duplicates": 10}
    assert len(state.points) == 10


def test_close_waits_for_the_service_then_counts_what_it_could_not_write(
    service: tuple[Service, Peer],
) -> None:
    state, peer = service
    client = RestClient(peer.url, "token kernel-token", timeout=5)
    recorder = Recorder(client, "r1", flush_interval=3600, max_pending=100, close_timeout=1.0)
    recorder.start()
    peer.stop()
    for t in range(7):
        recorder(float(t), {"cpu": float(t)})
    recorder.close()  # the service stays away past close_timeout
    assert recorder.dropped == 7 and recorder.pending == 0 and state.points == {}

    # Back within close_timeout: close() writes the backlog instead.
    peer.start()
    again = Recorder(client, "r1", flush_interval=3600, close_timeout=30.0)
    peer.stop()
    for t in range(100, 103):
        again(float(t), {"cpu": 1.0})
    assert not again.flush()
    timer = threading.Timer(1.5, peer.start)
    timer.start()
    again.close()
    timer.join()
    assert again.dropped == 0 and sorted(t for (_, t) in state.points) == [100.0, 101.0, 102.0]
