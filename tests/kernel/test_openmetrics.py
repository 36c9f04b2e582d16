"""OpenMetrics collector scraping a real HTTP server serving a real prometheus_client registry."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import (
    CONTENT_TYPE_LATEST as OPENMETRICS_TYPE,
)
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)

from labdeck.kernel.collectors.openmetrics import OpenMetricsCollector, render_labels


class _Exporter:
    """An exporter on 127.0.0.1 with a gauge, a counter and a histogram, all labelled."""

    def __init__(self, openmetrics: bool = False) -> None:
        self.registry = CollectorRegistry()
        self.queue = Gauge(
            "labdeck_queue_depth", "jobs waiting", ["shard", "queue"], registry=self.registry
        )
        self.jobs = Counter("labdeck_jobs", "jobs done", ["kind"], registry=self.registry)
        self.latency = Histogram("labdeck_latency_seconds", "latency", registry=self.registry)
        self.up = Gauge("labdeck_up", "exporter is up", registry=self.registry)
        self.requests = 0
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                exporter.requests += 1
                if openmetrics:
                    body, kind = generate_openmetrics(exporter.registry), OPENMETRICS_TYPE
                else:
                    body, kind = generate_latest(exporter.registry), "text/plain; version=0.0.4"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=[False, True], ids=["prometheus-text", "openmetrics-text"])
def exporter(request: pytest.FixtureRequest) -> Iterator[_Exporter]:
    served = _Exporter(openmetrics=request.param)
    served.queue.labels(shard="1", queue="high").set(7)
    served.queue.labels(shard="2", queue='say "hi"').set(3)
    served.jobs.labels(kind="train").inc(5)
    served.latency.observe(0.2)
    served.up.set(1)
    yield served
    served.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_render_labels_is_stable_and_escaped() -> None:
    assert render_labels({}) == ""
    assert render_labels({"b": "x", "a": "1"}) == '{a="1",b="x"}'
    assert render_labels({"q": 'say "hi"\\'}) == '{q="say \\"hi\\"\\\\"}'


def test_gauges_and_counters_with_sorted_labels(exporter: _Exporter) -> None:
    collector = OpenMetricsCollector({"app": exporter.url}, [".*"])
    assert collector.probe().present and collector.slow

    values = collector.sample()

    assert values['openmetrics.app.labdeck_queue_depth{queue="high",shard="1"}'] == 7.0
    assert values['openmetrics.app.labdeck_queue_depth{queue="say \\"hi\\"",shard="2"}'] == 3.0
    assert values['openmetrics.app.labdeck_jobs_total{kind="train"}'] == 5.0
    assert values["openmetrics.app.labdeck_up"] == 1.0
    assert not any("_created" in key for key in values)
    assert not any("labdeck_latency_seconds" in key for key in values)  # histograms are not kept


def test_filters_select_series_and_are_decided_once_per_name(exporter: _Exporter) -> None:
    collector = OpenMetricsCollector({"app": exporter.url}, ["^labdeck_queue_", "jobs"])
    assert collector.probe().present

    first = collector.sample()
    exporter.jobs.labels(kind="eval").inc()
    second = collector.sample()

    assert set(first) == {
        'openmetrics.app.labdeck_queue_depth{queue="high",shard="1"}',
        'openmetrics.app.labdeck_queue_depth{queue="say \\"hi\\"",shard="2"}',
        'openmetrics.app.labdeck_jobs_total{kind="train"}',
    }
    assert second['openmetrics.app.labdeck_jobs_total{kind="eval"}'] == 1.0
    assert collector._keep == {
        "labdeck_queue_depth": True,
        "labdeck_jobs_total": True,
        "labdeck_up": False,
    }


def test_no_filters_keep_every_series(exporter: _Exporter) -> None:
    collector = OpenMetricsCollector({"app": exporter.url}, [])
    assert collector.probe().present
    assert "openmetrics.app.labdeck_up" in collector.sample()


def test_failing_endpoint_backs_off_and_others_go_on(exporter: _Exporter) -> None:
    now = [1000.0]
    dead = f"http://127.0.0.1:{_free_port()}/metrics"
    collector = OpenMetricsCollector(
        {"dead": dead, "app": exporter.url}, [".*"], timeout=1.0, clock=lambda: now[0]
    )
    assert collector.probe().present

    first = collector.sample()
    assert any(key.startswith("openmetrics.app.") for key in first)
    assert collector.info()["failing"] == {"dead": 1}

    now[0] += 1.0  # inside the back-off window: the dead endpoint is not tried
    collector.sample()
    assert collector.info()["failing"] == {"dead": 1}

    now[0] += 10.0  # past it: tried again, fails again, waits twice as long
    collector.sample()
    assert collector.info()["failing"] == {"dead": 2}
    assert collector._endpoints[0].retry_at == pytest.approx(now[0] + 10.0)
    assert exporter.requests == 3


def test_no_endpoints_is_a_reason() -> None:
    probe = OpenMetricsCollector({}, [".*"]).probe()
    assert not probe.present and probe.reason == "no OpenMetrics endpoints configured"
