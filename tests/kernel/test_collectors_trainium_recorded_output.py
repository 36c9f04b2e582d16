"""Trainium collector against a recorded `neuron-monitor` stream (trn1.32xlarge).

The stream test replays the recording through a real child process, so the
long-lived subprocess, its reader thread and shutdown are exercised too.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from labdeck.kernel.collectors.trainium import (
    TrainiumCollector,
    monitor_config,
    parse_neuron_report,
)

DATA = Path(__file__).parent.parent / "data"
RECORDING = DATA / "neuron_monitor.jsonl"
TRN_KEY = re.compile(
    r"trn\.(\d+\.neuroncore_utilization"
    r"|host_total_memory_usage"
    r"|neuron_device_total_memory_usage"
    r"|host_total_memory_usage\.(application_memory|constants|dma_buffers|tensors)"
    r"|\d+\.neuroncore_memory_usage\."
    r"(constants|model_code|model_shared_scratchpad|runtime_memory|tensors))"
)


def _reports() -> list[dict[str, object]]:
    return [json.loads(line) for line in RECORDING.read_text().splitlines()]


def test_report_of_the_monitored_tree_only_recorded_output() -> None:
    values = parse_neuron_report(_reports()[0], pids={4141})

    assert values["trn.0.neuroncore_utilization"] == pytest.approx(42.01)
    assert values["trn.1.neuroncore_utilization"] == pytest.approx(41.87)
    assert "trn.2.neuroncore_utilization" not in values  # pid 5151 is someone else's
    assert values["trn.host_total_memory_usage"] == 6997643264
    assert values["trn.neuron_device_total_memory_usage"] == 12519788544
    assert values["trn.host_total_memory_usage.application_memory"] == 6996594688
    assert values["trn.host_total_memory_usage.dma_buffers"] == 1048576
    assert values["trn.0.neuroncore_memory_usage.model_code"] == 176285056
    assert values["trn.1.neuroncore_memory_usage.tensors"] == 20971520
    assert all(TRN_KEY.fullmatch(key) for key in values)


def test_every_application_summed_when_no_pid_filter_recorded_output() -> None:
    values = parse_neuron_report(_reports()[0], pids=None)

    assert values["trn.3.neuroncore_utilization"] == pytest.approx(11.75)
    assert values["trn.host_total_memory_usage"] == 6997643264 + 2147483648
    assert values["trn.neuron_device_total_memory_usage"] == 12519788544 + 4294967296


def test_a_runtime_with_an_error_is_left_out_recorded_output() -> None:
    report = _reports()[0]
    runtimes = report["neuron_runtime_data"]
    assert isinstance(runtimes, list)
    runtimes[0]["error"] = "failed to connect to the Neuron runtime"
    assert parse_neuron_report(report, pids={4141}) == {}


def test_config_asks_for_the_parsed_groups() -> None:
    config = monitor_config(0.5)
    assert config["period"] == "1s"
    runtimes = config["neuron_runtimes"]
    assert isinstance(runtimes, list)
    assert {m["type"] for m in runtimes[0]["metrics"]} == {"neuroncore_counters", "memory_used"}


def test_long_lived_stream_recorded_output(tmp_path: Path) -> None:
    (tmp_path / "neuron0").touch()
    replay = (
        "import sys, time\n"
        f"for line in open({str(RECORDING)!r}):\n"
        "    sys.stdout.write(line); sys.stdout.flush(); time.sleep(0.05)\n"
        "time.sleep(60)\n"
    )
    collector = TrainiumCollector(
        pid=4141,
        command=[sys.executable, "-c", replay],
        device_glob=str(tmp_path / "neuron*"),
        tree=lambda pid: {pid},
    )
    assert collector.probe().present
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and collector.info()["neuron_hardware_info"] == {}:
            time.sleep(0.02)
        time.sleep(0.2)
        values = collector.sample()
        # Both reports arrived before this sample: the latest value of each key wins.
        assert values["trn.0.neuroncore_utilization"] == pytest.approx(88.4)
        assert values["trn.0.neuroncore_memory_usage.tensors"] == 41943040
        assert collector.sample() == {}  # nothing new since: nothing repeated
        hardware = collector.info()["neuron_hardware_info"]
        assert isinstance(hardware, dict) and hardware["neuron_device_count"] == 16
    finally:
        collector.close()


def test_tool_that_dies_is_a_fault_recorded_output(tmp_path: Path) -> None:
    (tmp_path / "neuron0").touch()
    crash = "import sys; sys.stderr.write('neuron driver not loaded'); sys.exit(3)"
    collector = TrainiumCollector(
        pid=None, command=[sys.executable, "-c", crash], device_glob=str(tmp_path / "neuron*")
    )
    assert collector.probe().present
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                collector.sample()
            except RuntimeError as exc:
                assert "status 3" in str(exc) and "driver not loaded" in str(exc)
                return
            time.sleep(0.02)
        pytest.fail("a dead neuron-monitor was not reported")
    finally:
        collector.close()


def test_absent_here_is_a_reason() -> None:
    probe = TrainiumCollector(pid=None, device_glob="/nonexistent/neuron*").probe()
    assert not probe.present and probe.reason
