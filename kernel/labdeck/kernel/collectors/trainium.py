"""AWS Trainium / Inferentia through `neuron-monitor`.

neuron-monitor is meant to run continuously: it writes one JSON report per
line to stdout every period. Starting it per sample would cost a process
launch and lose the period's counters, so it runs for the life of the
collector, read by a thread; `sample()` only hands over the report that
arrived since the last sample (nothing when none did), so a 1 s monitor over
a 5 s report period does not record each report five times.

Only the Neuron applications of the monitored process tree are counted
(`neuron_runtime_data[].pid`); their memory is summed, and each NeuronCore
index belongs to one application.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

from .base import Collector, Probe, as_number, process_tree, which

log = logging.getLogger(__name__)

NEURON_MONITOR = "neuron-monitor"
HOST_PARTS = ("application_memory", "constants", "dma_buffers", "tensors")
CORE_PARTS = ("constants", "model_code", "model_shared_scratchpad", "runtime_memory", "tensors")


def _add(values: dict[str, float], key: str, value: object) -> None:
    number = as_number(value)
    if number is not None:
        values[key] = values.get(key, 0.0) + number


def parse_neuron_report(report: dict[str, Any], pids: set[int] | None) -> dict[str, float]:
    """`trn.*` keys from one neuron-monitor report; `pids` None counts every application."""
    values: dict[str, float] = {}
    for runtime in report.get("neuron_runtime_data") or []:
        if runtime.get("error") or (pids is not None and runtime.get("pid") not in pids):
            continue
        groups = runtime.get("report") or {}
        counters = groups.get("neuroncore_counters") or {}
        if not counters.get("error"):
            for core, data in (counters.get("neuroncores_in_use") or {}).items():
                _add(
                    values, f"trn.{core}.neuroncore_utilization", data.get("neuroncore_utilization")
                )
        memory = groups.get("memory_used") or {}
        used = memory.get("neuron_runtime_used_bytes") or {}
        if memory.get("error") or not used:
            continue
        _add(values, "trn.host_total_memory_usage", used.get("host"))
        _add(values, "trn.neuron_device_total_memory_usage", used.get("neuron_device"))
        breakdown = used.get("usage_breakdown") or {}
        host = breakdown.get("host") or {}
        for part in HOST_PARTS:
            _add(values, f"trn.host_total_memory_usage.{part}", host.get(part))
        for core, parts in (breakdown.get("neuroncore_memory_usage") or {}).items():
            for part in CORE_PARTS:
                _add(values, f"trn.{core}.neuroncore_memory_usage.{part}", parts.get(part))
    return values


def monitor_config(period: float) -> dict[str, object]:
    """A neuron-monitor configuration asking only for what `parse_neuron_report` reads."""
    return {
        "period": f"{max(int(round(period)), 1)}s",
        "neuron_runtimes": [
            {
                "tag_filter": ".*",
                "metrics": [{"type": "neuroncore_counters"}, {"type": "memory_used"}],
            }
        ],
    }


class TrainiumCollector(Collector):
    """NeuronCore utilisation and Neuron memory of the monitored tree's applications."""

    name = "trainium"

    def __init__(
        self,
        pid: int | None,
        period: float = 5.0,
        command: Sequence[str] | None = None,
        device_glob: str = "/dev/neuron*",
        tree: Callable[[int], set[int]] = process_tree,
    ) -> None:
        self._pid = pid
        self._period = period
        self._command = list(command) if command else None
        self._device_glob = device_glob
        self._tree = tree
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._hardware: dict[str, object] = {}
        self._config_path: str | None = None
        self._errors: IO[bytes] | None = None

    def probe(self) -> Probe:
        command = self._command
        if command is None:
            if which(NEURON_MONITOR) is None:
                return Probe(False, "neuron-monitor not found (aws-neuronx-tools)")
            handle, self._config_path = tempfile.mkstemp(prefix="labdeck-neuron-", suffix=".json")
            with os.fdopen(handle, "w") as config:
                json.dump(monitor_config(self._period), config)
            command = [NEURON_MONITOR, "-c", self._config_path]
        if not glob.glob(self._device_glob):
            self.close()
            return Probe(False, "no Neuron device")
        # stderr goes to a file: a pipe nobody reads would block the tool once full.
        self._errors = tempfile.TemporaryFile(prefix="labdeck-neuron-")
        try:
            self._process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=self._errors, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            self.close()
            return Probe(False, f"cannot start neuron-monitor: {exc}")
        stdout = self._process.stdout
        if stdout is None:
            raise RuntimeError("neuron-monitor was started without a stdout pipe")
        self._reader = threading.Thread(
            target=self._read, args=(stdout,), name="labdeck-neuron-monitor", daemon=True
        )
        self._reader.start()
        return Probe(True)

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                report = json.loads(line)
            except ValueError:
                continue  # a partial line at shutdown
            pids = self._tree(self._pid) if self._pid is not None else None
            values = parse_neuron_report(report, pids)
            with self._lock:
                self._pending.update(values)
                self._hardware = report.get("neuron_hardware_info") or self._hardware

    def sample(self) -> dict[str, float]:
        process = self._process
        if process is None:
            raise RuntimeError("neuron-monitor is not running")
        with self._lock:
            values, self._pending = self._pending, {}
        if not values and process.poll() is not None:
            message = ""
            if self._errors is not None:
                self._errors.seek(0)
                message = self._errors.read().decode(errors="replace").strip()[-400:]
            raise RuntimeError(f"neuron-monitor exited with status {process.returncode}: {message}")
        return values

    def info(self) -> dict[str, object]:
        with self._lock:
            return {"neuron_hardware_info": dict(self._hardware)}

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        if self._config_path is not None:
            try:
                os.unlink(self._config_path)
            except OSError:
                pass
            self._config_path = None
