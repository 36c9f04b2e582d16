"""OpenMetrics collector scraping a real HTTP server serving a real prometheus_client registry."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import (
    CONTENT_TYPE_LATEST as OPENMETRICS_TYPE,
)
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)

from labdeck.kernel.collectors.base import SamplerConfig
from labdeck.kernel.collectors.openmetrics import OpenMetricsCollector, render_labels
from labdeck.kernel.sampler import Sampler


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


class _RawPeer:
    """A TCP peer on 127.0.0.1 that answers every connection with fixed bytes, then
    closes: not HTTP at all (`BadStatusLine`), or a body cut short (`IncompleteRead`)."""

    def __init__(self, answer: bytes, delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/metrics"
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                time.sleep(self.delay)
                conn.sendall(self.answer)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\n"
CUT_SHORT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\nlabdeck_up 1\n"
)


@pytest.mark.parametrize(
    ("answer", "error"), [(NOT_HTTP, "BadStatusLine"), (CUT_SHORT, "IncompleteRead")]
)
def test_a_bad_endpoint_beside_a_good_one_keeps_the_good_ones_values_at_the_interval(
    exporter: _Exporter, answer: bytes, error: str
) -> None:
    bad = _RawPeer(answer)
    config = SamplerConfig(interval=0.2, slow_interval=1.0)
    collector = OpenMetricsCollector({"bad": bad.url, "app": exporter.url}, [".*"])
    seen: list[tuple[float, dict[str, float]]] = []
    sampler = Sampler([collector], config, [lambda t, v: seen.append((t, v))])
    try:
        sampler.start()
        time.sleep(6.2)
        status = sampler.status()
    finally:
        sampler.stop()
        bad.close()
    good = [t for t, v in seen if "openmetrics.app.labdeck_up" in v]
    # A slow tick a second for ~6 s, the baseline and the closing sample:
    # every tick brings the good endpoint's values.
    assert len(good) >= 5, good
    assert status["disabled"] == {}  # the collector goes on
    problems = status["problems"]
    assert isinstance(problems, dict)
    assert error in problems["openmetrics: endpoint bad"]
    assert not any("endpoint app" in what for what in problems)
    assert bad.connections <= 2  # backed off: asked again after 5 s, not every second


def test_a_slow_endpoint_does_not_slow_a_fast_one(exporter: _Exporter) -> None:
    """The issue's case: a 4 s endpoint cut a fast one to 2 values in 12 s."""
    slow_body = b"slow_gauge 1\n"
    slow = _RawPeer(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
        + str(len(slow_body)).encode()
        + b"\r\n\r\n"
        + slow_body,
        delay=4.0,
    )
    collector = OpenMetricsCollector({"slow": slow.url, "app": exporter.url}, [".*"])
    assert collector.probe().present
    fast_values = slow_values = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < 12:
            tick = time.monotonic()
            values = collector.sample()
            fast_values += "openmetrics.app.labdeck_up" in values
            slow_values += "openmetrics.slow.slow_gauge" in values
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        collector.close()
        slow.close()
    assert fast_values >= 10, fast_values  # one a second
    assert slow_values >= 2  # and the slow one's values arrive when they come
    assert collector.problems() == {}


def test_each_endpoint_fails_and_recovers_on_its_own(exporter: _Exporter) -> None:
    now = [1000.0]
    flaky = _RawPeer(NOT_HTTP)
    collector = OpenMetricsCollector(
        {"flaky": flaky.url, "app": exporter.url}, [".*"], clock=lambda: now[0]
    )
    assert collector.probe().present
    try:
        collector.sample()
        assert "endpoint flaky" in collector.problems()
        flaky.close()
        exporter_url = exporter.url
        collector._endpoints[0].url = exporter_url  # the endpoint comes back
        now[0] += 4.0
        assert not any(k.startswith("openmetrics.flaky.") for k in collector.sample())
        now[0] += 2.0  # past the 5 s back-off
        values = collector.sample()
    finally:
        collector.close()
    assert values["openmetrics.flaky.labdeck_up"] == 1.0
    assert values["openmetrics.app.labdeck_up"] == 1.0
    assert collector.problems() == {}
