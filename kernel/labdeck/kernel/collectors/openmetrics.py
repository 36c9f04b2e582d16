"""Scrape Prometheus / OpenMetrics endpoints (DCGM exporter, vLLM, a training server...).

Each configured endpoint (name -> URL) is fetched on the slow cadence, all of
them at once (a thread each, from a small pool), each with its own 5 s
timeout for the whole scrape. An endpoint is its own unit of failure: one
that fails in any way (refused, timed out, not HTTP at all, cut short,
unparsable) is retried after a delay that doubles up to five minutes, so a
dead exporter costs one timeout now and then, not one per sample, and
recovers by itself when it answers again. The others never wait for it: a
scrape still running when the collector is sampled is picked up at a later
sample, and a failing endpoint is listed by `%labdeck status`. Gauges,
counters and untyped series are kept when any filter regex is found in the
series name (no filters: all are kept); the decision is cached per name. A series is keyed
`openmetrics.{endpoint}.{name}{labels}` with its labels sorted, so the same
series always gets the same key.
"""

from __future__ import annotations

import importlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Any

from .base import Collector, Probe

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
COLLECT_WAIT_S = 0.5
"""How long a sample waits for the scrapes it started before returning what has come."""
MAX_WORKERS = 8
BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 300.0
_KEPT_TYPES = frozenset({"gauge", "counter", "untyped", "unknown"})
# With the beta feature `openmetrics_histograms`: every series of histograms and
# summaries too (`_bucket{le=…}`, `_sum`, `_count`, quantiles).
_DISTRIBUTION_TYPES = frozenset({"histogram", "summary", "gaugehistogram"})
_CREATED_BY = frozenset({"counter", "histogram", "summary", "gaugehistogram"})
_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def render_labels(labels: dict[str, str]) -> str:
    """`{a="1",b="x"}` with names sorted and values escaped as in the exposition format."""
    if not labels:
        return ""
    parts = []
    for name in sorted(labels):
        value = labels[name].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{name}="{value}"')
    return "{" + ",".join(parts) + "}"


@dataclass
class _Endpoint:
    name: str
    url: str
    failures: int = 0
    retry_at: float = 0.0
    error: str = ""
    scrape: Future[tuple[str, str]] | None = None
    started: float = 0.0


class OpenMetricsCollector(Collector):
    """Series from configured endpoints that pass the filters."""

    name = "openmetrics"
    slow = True

    def __init__(
        self,
        endpoints: dict[str, str],
        filters: Iterable[str],
        timeout: float = TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        histograms: bool = False,
        collect_wait: float = COLLECT_WAIT_S,
    ) -> None:
        self._types = _KEPT_TYPES | _DISTRIBUTION_TYPES if histograms else _KEPT_TYPES
        self._endpoints = [_Endpoint(name, url) for name, url in endpoints.items()]
        self._filters = [re.compile(pattern) for pattern in filters]
        self._timeout = timeout
        self._clock = clock
        self._collect_wait = collect_wait
        self._pool: ThreadPoolExecutor | None = None
        self._state = threading.Lock()  # guards the endpoints' failure fields, read by status
        self._keep: dict[str, bool] = {}
        self._keys: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._parsers: dict[str, Callable[[str], Iterable[Any]]] = {}

    def probe(self) -> Probe:
        if not self._endpoints:
            return Probe(False, "no OpenMetrics endpoints configured")
        try:
            prometheus = importlib.import_module("prometheus_client.parser")
            openmetrics = importlib.import_module("prometheus_client.openmetrics.parser")
        except ImportError:
            return Probe(False, "prometheus_client not installed")
        self._parsers = {
            "prometheus": prometheus.text_string_to_metric_families,
            "openmetrics": openmetrics.text_string_to_metric_families,
        }
        return Probe(True)

    def _kept(self, series: str) -> bool:
        keep = self._keep.get(series)
        if keep is None:
            keep = not self._filters or any(f.search(series) for f in self._filters)
            self._keep[series] = keep
        return keep

    def _key(self, endpoint: str, series: str, labels: dict[str, str]) -> str:
        ident = (endpoint, series, tuple(sorted(labels.items())))
        key = self._keys.get(ident)
        if key is None:
            key = self._keys[ident] = f"openmetrics.{endpoint}.{series}{render_labels(labels)}"
        return key

    def _fetch(self, endpoint: _Endpoint) -> tuple[str, str]:
        import urllib.request  # here, not at the top: it costs ~35 ms of `%labdeck start`

        request = urllib.request.Request(endpoint.url, headers={"Accept": _ACCEPT})
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            kind = response.headers.get("Content-Type", "")
            charset = response.headers.get_content_charset() or "utf-8"
            body = response.read().decode(charset, errors="replace")
        return ("openmetrics" if "openmetrics" in kind else "prometheus"), body

    def parse(self, endpoint: str, text: str, fmt: str = "prometheus") -> dict[str, float]:
        """The kept series of one exposition, keyed for `endpoint`."""
        families = list(self._parsers[fmt](text))
        # prometheus_client exposes each counter's creation time as a `<name>_created`
        # series (a gauge family of its own in the Prometheus text format): not a value.
        created = {f"{f.name}_created" for f in families if f.type in _CREATED_BY}
        values: dict[str, float] = {}
        for family in families:
            if family.type not in self._types or family.name in created:
                continue
            for sample in family.samples:
                if sample.name in created or not self._kept(sample.name):
                    continue
                value = float(sample.value)
                if math.isfinite(value):
                    values[self._key(endpoint, sample.name, sample.labels)] = value
        return values

    def _failed(self, endpoint: _Endpoint, now: float, exc: BaseException) -> None:
        with self._state:
            endpoint.failures += 1
            delay = min(BACKOFF_FIRST_S * 2 ** (endpoint.failures - 1), BACKOFF_MAX_S)
            endpoint.retry_at = now + delay
            endpoint.error = f"{type(exc).__name__}: {exc}"
        level = logging.WARNING if endpoint.failures == 1 else logging.DEBUG
        log.log(
            level,
            "labdeck: scraping %s (%s) failed, retry in %.0f s: %s",
            endpoint.name,
            endpoint.url,
            delay,
            endpoint.error,
        )

    def _harvest(self, endpoint: _Endpoint, now: float, values: dict[str, float]) -> None:
        """Take a finished scrape's values, or its failure; time out a stuck one."""
        scrape = endpoint.scrape
        if scrape is None:
            return
        if not scrape.done():
            if now - endpoint.started > self._timeout and endpoint.retry_at <= endpoint.started:
                # Over its own deadline (a server trickling bytes): a failure now;
                # the thread ends with the socket timeout.
                self._failed(endpoint, now, TimeoutError(f"no answer in {self._timeout:g} s"))
            return
        endpoint.scrape = None
        if endpoint.retry_at > endpoint.started:
            return  # already counted as timed out
        try:
            fmt, text = scrape.result()
            values.update(self.parse(endpoint.name, text, fmt))
        except Exception as exc:  # any failure of one endpoint is that endpoint's alone
            self._failed(endpoint, now, exc)
            return
        if endpoint.failures:
            log.info("labdeck: scraping %s works again", endpoint.name)
        with self._state:
            endpoint.failures, endpoint.retry_at, endpoint.error = 0, 0.0, ""

    def sample(self) -> dict[str, float]:
        if self._pool is None:
            workers = min(len(self._endpoints), MAX_WORKERS) or 1
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="labdeck-openmetrics")
        values: dict[str, float] = {}
        now = self._clock()
        started: list[Future[tuple[str, str]]] = []
        for endpoint in self._endpoints:
            self._harvest(endpoint, now, values)
            if endpoint.scrape is None and now >= endpoint.retry_at:
                endpoint.started = now
                endpoint.scrape = self._pool.submit(self._fetch, endpoint)
                started.append(endpoint.scrape)
        if started:
            wait_for(started, timeout=min(self._collect_wait, self._timeout))
            now = self._clock()
            for endpoint in self._endpoints:
                if endpoint.scrape in started:
                    self._harvest(endpoint, now, values)
        return values

    def problems(self) -> dict[str, str]:
        with self._state:
            return {
                f"endpoint {e.name}": f"{e.error} ({e.failures} in a row; {e.url})"
                for e in self._endpoints
                if e.failures
            }

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def info(self) -> dict[str, object]:
        return {
            "endpoints": {e.name: e.url for e in self._endpoints},
            "filters": [f.pattern for f in self._filters],
            "failing": {e.name: e.failures for e in self._endpoints if e.failures},
        }
