"""Each beta feature gates real collection (F-US-3): with it on, the
monitor records what it adds; with it off, nothing of it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

import labdeck
from labdeck.backend.context import Backend
from labdeck.backend.services import beta_features, identity
from labdeck.kernel.collectors.openmetrics import OpenMetricsCollector

# The kernel's user: the OS account it runs as (F-ID-1), whatever the
# environment says.
OWNER = identity.server_owner()


def _kim(url: str):
    backend = Backend.open(url)
    return backend, identity.ensure_user(backend, OWNER)


def test_proc_memory_pss_adds_the_pss_of_the_process_tree(kernel_db):
    backend, kim = _kim(kernel_db)
    with labdeck.monitor(project="flags", interval=0.2) as off:
        time.sleep(0.5)
    assert "proc.memory.pssMB" not in off.history()["series"]
    beta_features.set_beta_features(backend, kim, {"proc_memory_pss": True})
    with labdeck.monitor(project="flags", interval=0.2) as on:
        time.sleep(2.5)
    pss = on.history()["series"]["proc.memory.pssMB"]["v"]
    assert pss and 1 < pss[-1] < 10_000


@pytest.fixture
def exposition():
    registry = CollectorRegistry()
    Gauge("queue_depth", "jobs waiting", registry=registry).set(3)
    latency = Histogram("latency_seconds", "request latency", registry=registry)
    latency.observe(0.2)
    body = generate_latest(registry)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()


def test_openmetrics_histograms_beta_feature_keeps_histogram_series(exposition):
    plain = OpenMetricsCollector({"svc": exposition}, [".*"])
    full = OpenMetricsCollector({"svc": exposition}, [".*"], histograms=True)
    assert plain.probe().present and full.probe().present
    gauges_only, everything = plain.sample(), full.sample()
    assert "openmetrics.svc.queue_depth" in gauges_only
    assert not any("latency" in key for key in gauges_only)
    assert "openmetrics.svc.latency_seconds_count" in everything
    assert any(k.startswith("openmetrics.svc.latency_seconds_bucket{") for k in everything)
