"""Issue 15's cases, each as a figure against ground truth read apart.

Measured, not asserted; run from a checkout, it measures that checkout's code
(so the same script measures main and a branch):

    python benchmarks/sampler_cases.py [--repeat 3]

1. children: a 0.5 s monitor while this process runs 8 children of 0.8 s
   CPU each (two at a time): the CPU-seconds the monitor's `cpu` adds up
   to, over what `os.times()` says the process and its children spent.
2. openmetrics: a good endpoint beside one answering non-HTTP bytes and one
   answering after 4 s, the slow collectors at 1 s for 12 s: how many
   samples carry the good endpoint's values.
3. short run: a 1 s block under a 10 s interval: how many points `cpu` and
   `memory` get.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("kernel", "backend")]

from labdeck.kernel.collectors.base import SamplerConfig  # noqa: E402
from labdeck.kernel.collectors.host import HostCollector  # noqa: E402
from labdeck.kernel.collectors.openmetrics import OpenMetricsCollector  # noqa: E402
from labdeck.kernel.sampler import Sampler  # noqa: E402

BURN = "import time\nwhile time.process_time() < 0.8: pass\n"


def _cpu_now() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def children_case() -> float:
    host = HostCollector(SamplerConfig(interval=0.5))
    counted: list[float] = []
    last: list[float] = []
    sampler = Sampler([host], SamplerConfig(interval=0.5), [])
    limits = host._limits
    usable = limits.usable_cpus if limits is not None else float(os.cpu_count() or 1)

    def sink(stamp: float, values: dict[str, float]) -> None:
        if "cpu" in values and last:
            counted.append(values["cpu"] / 100 * usable * (stamp - last[0]))
        last[:] = [stamp]

    sampler.add_sink(sink)
    before = _cpu_now()
    sampler.start()
    running: list[subprocess.Popen[bytes]] = []
    for _ in range(8):
        running.append(subprocess.Popen([sys.executable, "-c", BURN]))
        if len(running) >= 2:
            running.pop(0).wait()
    for child in running:
        child.wait()
    time.sleep(0.6)  # one more tick for code without a closing sample
    sampler.stop()
    return sum(counted) / (_cpu_now() - before) * 100


def _raw_peer(answer: bytes, delay: float) -> tuple[socket.socket, str]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return

            def reply(conn: socket.socket = conn) -> None:
                with conn:
                    try:
                        conn.recv(65536)
                        time.sleep(delay)
                        conn.sendall(answer)
                    except OSError:
                        pass

            threading.Thread(target=reply, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server, f"http://127.0.0.1:{server.getsockname()[1]}/metrics"


def openmetrics_case() -> int:
    body = b"good_gauge 1\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    good = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=good.serve_forever, daemon=True).start()
    bad, bad_url = _raw_peer(b"SSH-2.0-OpenSSH_9.6\r\n", 0.0)
    slow_body = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nslow_gauge 1"
    slow, slow_url = _raw_peer(slow_body, 4.0)
    endpoints = {
        "bad": bad_url,
        "slow": slow_url,
        "good": f"http://127.0.0.1:{good.server_address[1]}/metrics",
    }
    seen: list[dict[str, float]] = []
    config = SamplerConfig(interval=0.5, slow_interval=1.0)
    sampler = Sampler([OpenMetricsCollector(endpoints, [".*"])], config, [])
    sampler.add_sink(lambda t, v: seen.append(v))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler.start()
        time.sleep(12)
        sampler.stop()
    good.shutdown()
    bad.close()
    slow.close()
    return sum("openmetrics.good.good_gauge" in values for values in seen)


def short_run_case() -> tuple[int, int]:
    seen: list[dict[str, float]] = []
    config = SamplerConfig(interval=10)
    sampler = Sampler([HostCollector(config)], config, [])
    sampler.add_sink(lambda t, v: seen.append(v))
    sampler.start()
    time.sleep(1.0)
    sampler.stop()
    return sum("cpu" in v for v in seen), sum("memory" in v for v in seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    captured = [children_case() for _ in range(args.repeat)]
    print(
        f"children: 8 x 0.8 s CPU at a 0.5 s monitor: {statistics.median(captured):.0f} % "
        f"counted (median; runs {', '.join(f'{c:.0f}' for c in captured)})"
    )
    good = [openmetrics_case() for _ in range(args.repeat)]
    print(
        "openmetrics: good endpoint beside a non-HTTP one and a 4 s one, 12 s at 1 s: "
        f"{statistics.median(good):.0f} samples with its values (runs {good})"
    )
    cpu, memory = short_run_case()
    print(f"short run: 1 s under a 10 s interval: cpu {cpu} points, memory {memory} points")


if __name__ == "__main__":
    main()
