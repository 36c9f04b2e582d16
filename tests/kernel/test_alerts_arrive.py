"""Run alerts reach a real HTTP server standing in for Slack's incoming
webhook (F-US-4, F-SM-8, F-SM-11, F-SM-13): a finished run, a crashed one
(a monitored block that raises: its last error line and a link to the run),
a threshold breach, and an idle kernel (the CPU path in a real kernel with
short thresholds; the GPU path against the recorded-NVML fake)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.multikernelmanager import MultiKernelManager
from mailpeers import Hook, slack_peer
from sqlalchemy import select
from test_nvidia_fake_nvml_recorded_h100 import FakeNvml, child, fake  # noqa: F401 (fixtures)

from labdeck.backend.context import Actor, Backend
from labdeck.backend.delivery.deliverer import Deliverer
from labdeck.backend.models import Alert
from labdeck.backend.services import alert_rules, alert_settings, identity
from labdeck.kernel.collectors.nvidia import NvidiaCollector, NvidiaProcessCollector, NvmlSession
from labdeck.kernel.idle import IdleThresholds, IdleWatch
from labdeck.kernel.session import Monitor

PUBLIC = "http://lab.example.org:8888/"


@pytest.fixture
def public_url(kernel_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LABDECK_PUBLIC_URL", PUBLIC)
    # The Slack stand-in is plain http on this machine.
    monkeypatch.setenv("LABDECK_SLACK_HTTP_HOSTS", "127.0.0.1")
    return PUBLIC


def _me(backend: Backend, hook: Hook, events: tuple[str, ...]) -> Actor:
    me = identity.process_actor(backend)
    alert_settings.put_alert_settings(
        backend,
        me,
        {
            "slack_webhook_url": hook.url("me"),
            "events": {event: {"slack": True, "email": False} for event in events},
        },
    )
    return me


def _deliver_until(backend: Backend, hook: Hook, kind: str) -> dict[str, Any]:
    deliverer = Deliverer(backend)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        deliverer.run_once()
        with hook.lock:
            for _name, body in hook.posts:
                if body["kind"] == kind:
                    return body
        time.sleep(0.2)
    raise AssertionError(f"no {kind} post; got {hook.posts}")


def test_finished_crashed_and_threshold_alerts_reach_slack(kernel_db: str, public_url: str) -> None:
    backend = Backend.open(kernel_db)
    with slack_peer() as hook:
        me = _me(backend, hook, ("run_finished", "run_crashed", "threshold"))
        alert_rules.create_my_rule(
            backend,
            me,
            {
                "key_pattern": "proc.memory.rssMB",
                "comparison": ">",
                "value": 1,
                "channels": ["slack"],
            },
        )
        with Monitor("alerts", interval=0.2, backend=backend) as run:
            time.sleep(0.5)
        finished = _deliver_until(backend, hook, "alert_run_finished")
        breached = _deliver_until(backend, hook, "alert_threshold")
        with pytest.raises(ZeroDivisionError):
            with Monitor("alerts", interval=0.2, backend=backend) as crashed:
                time.sleep(0.3)
                print(1 / 0)
        body = _deliver_until(backend, hook, "alert_run_crashed")
    assert f"({run.id})" in finished["text"] and "finished" in finished["subject"]
    assert "proc.memory.rssMB &gt; 1" in breached["text"] and breached["subject"].endswith(
        "crossed an alert threshold"
    )
    assert "Last error: ZeroDivisionError: division by zero" in body["body"]
    assert f"See the run: {PUBLIC}labdeck/api/runs/{crashed.id}" in body["body"]
    assert body["text"].startswith("*[labdeck] ")


def _idle_alerts(backend: Backend) -> list[Alert]:
    with backend.db.reader() as session:
        return list(session.scalars(select(Alert).where(Alert.event == "idle")))


def test_an_idle_kernel_at_zero_cpu_raises_one_idle_alert(
    kernel_db: str, public_url: str, tmp_path: Path
) -> None:
    backend = Backend.open(kernel_db)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "LABDECK_IDLE_ALERT_MINUTES": "0.05",  # 3 s
        "LABDECK_IDLE_CPU_PERCENT": "10",
        "JPY_SESSION_NAME": "analysis/train.ipynb",
    }
    kernels = MultiKernelManager()
    with slack_peer() as hook:
        _me(backend, hook, ("idle",))
        kernel_id = kernels.start_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
        kc = kernels.get_kernel(kernel_id).client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            reply = kc.execute_interactive(
                "%load_ext labdeck\n%labdeck start --project idle --interval 0.3 --no-chart",
                timeout=60,
            )
            assert reply["content"]["status"] == "ok"
            # A busy cell is not idle, however long it takes.
            reply = kc.execute_interactive("import time; time.sleep(4)", timeout=60)
            assert reply["content"]["status"] == "ok"
            deadline = time.monotonic() + 90
            while not _idle_alerts(backend) and time.monotonic() < deadline:
                time.sleep(0.3)
            body = _deliver_until(backend, hook, "alert_idle")
            time.sleep(2)  # still idle: no second alert for the same spell
            assert len(_idle_alerts(backend)) == 1
            kc.execute_interactive("%labdeck stop", timeout=60)
        finally:
            kc.stop_channels()
            kernels.shutdown_all(now=True)
    text = body["body"]
    assert "Notebook: analysis/train.ipynb" in text and f"Kernel: {kernel_id}" in text
    assert "No cell has run for" in text and "% CPU" in text
    assert "holds resources while idle" in body["subject"]


def test_held_gpu_memory_at_low_use_is_idle_fake_nvml_recorded_h100(
    kernel_db: str,
    public_url: str,
    fake: FakeNvml,  # noqa: F811 (the fixture)
) -> None:
    """The GPU path: what NVML reports (recorded H100 readings, utilization
    set to an idle 0 %) of this process's 14 GiB on GPU 0."""
    backend = Backend.open(kernel_db)
    fake.devices["gpu0"]["nvmlDeviceGetUtilizationRates"] = {"gpu": 0, "memory": 0}
    session = NvmlSession()
    devices, processes = NvidiaCollector(session), NvidiaProcessCollector(session, os.getpid())
    assert devices.probe().present and processes.probe().present
    processes.sample()
    values = {**devices.sample(), **processes.sample()}
    values.update(devices.sample())
    processes.close()
    devices.close()
    assert values["gpu.process.0.processMemoryBytes"] == 14 * 2**30
    with slack_peer() as hook:
        _me(backend, hook, ("idle",))
        monitor = Monitor("gpu", interval=60, backend=backend)
        monitor.start()
        try:
            limits = IdleThresholds(
                minutes=1, gpu_memory_bytes=2**30, gpu_util_percent=5, cpu_percent=-1
            )
            watch = IdleWatch(monitor, limits, notebook="gpu.ipynb", kernel_id="k-1")
            feed: Callable[[float], None] = lambda t: watch(t, values)  # noqa: E731
            feed(1000.0)
            watch.pre_run_cell()  # a cell runs: the clock starts over
            feed(1050.0)
            watch.post_run_cell()
            for t in (1060.0, 1100.0, 1119.0):
                feed(t)
            assert not watch.alerts and not _idle_alerts(backend)
            feed(1120.0)  # 60 s idle, 14 GiB held at 0 %
            feed(1200.0)
            deadline = time.monotonic() + 30
            while not watch.alerts and time.monotonic() < deadline:
                time.sleep(0.1)
            body = _deliver_until(backend, hook, "alert_idle")
        finally:
            monitor.stop()
    assert len(_idle_alerts(backend)) == 1
    assert "14.0 GiB of GPU memory at 0 % GPU use" in body["body"]
    assert "Notebook: gpu.ipynb" in body["body"] and "Kernel: k-1" in body["body"]
    assert "No cell has run for 1 min" in body["body"]
