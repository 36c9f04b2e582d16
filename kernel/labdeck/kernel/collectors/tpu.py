"""Google Cloud TPU runtime metrics, read the way `tpu-info` reads them.

libtpu serves its runtime metrics (`tpu.runtime.hbm.memory.usage.bytes`,
`...total.bytes`, `tpu.runtime.tensorcore.dutycycle.percent`) over gRPC on
localhost:8431 while a JAX or PyTorch/XLA program runs. The `tpu_info`
package is the documented client: when it is importable its
`metrics.get_chip_usage` gives exact byte counts. Otherwise the `tpu-info`
command's tables are parsed (`--metric hbm_usage --metric duty_cycle_percent`),
which round memory to 0.01 GiB. Before the workload starts there are no
runtime metrics yet, so an empty reading is normal, not a fault.
"""

from __future__ import annotations

import glob
import importlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any

from .base import Collector, Probe, as_number, run_tool, which

log = logging.getLogger(__name__)

TPU_INFO = ("tpu-info", "--metric", "hbm_usage", "--metric", "duty_cycle_percent")
_GIB = 1024.0**3
_HBM = re.compile(r"([\d.]+)\s*GiB\s*/\s*([\d.]+)\s*GiB")
_SEPARATORS = str.maketrans({"│": "|", "┃": "|"})


def _tables(text: str) -> Iterable[tuple[list[str], list[list[str]]]]:
    """(header, rows) of each markdown or box-drawn table in `tpu-info` output."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    for raw in text.translate(_SEPARATORS).splitlines():
        line = raw.strip()
        if line and all("\u2500" <= char <= "\u257f" for char in line):
            continue  # a rule of a box-drawn (rich) table
        if not line.startswith("|"):
            if header is not None:
                yield header, rows
            header, rows = None, []
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if all(set(cell) <= set("-:") for cell in cells):
            continue  # the |---|---| rule under a markdown header
        if header is None:
            header = [cell.lower() for cell in cells]
        else:
            rows.append(cells)
    if header is not None:
        yield header, rows


def parse_tpu_info(text: str) -> dict[str, float]:
    """`tpu.{i}.memoryUsageBytes`, `memoryUsage` and `dutyCycle` from `tpu-info` tables."""
    values: dict[str, float] = {}
    for header, rows in _tables(text):
        hbm = next(
            (i for i, name in enumerate(header) if name.startswith(("hbm usage", "memory usage"))),
            None,
        )
        duty = next((i for i, name in enumerate(header) if name.startswith("duty cycle")), None)
        for row in rows:
            if len(row) != len(header) or not row[0].isdigit():
                continue
            prefix = f"tpu.{row[0]}."
            match = _HBM.search(row[hbm]) if hbm is not None else None
            if match:
                used, total = float(match.group(1)), float(match.group(2))
                values[prefix + "memoryUsageBytes"] = used * _GIB
                if total:
                    values[prefix + "memoryUsage"] = used / total * 100.0
            busy = as_number(row[duty].rstrip("%")) if duty is not None else None
            if busy is not None:
                values[prefix + "dutyCycle"] = busy
    return values


def usage_values(usages: Iterable[Any]) -> dict[str, float]:
    """The same keys from `tpu_info.metrics.get_chip_usage` results."""
    values: dict[str, float] = {}
    for usage in usages:
        prefix = f"tpu.{usage.device_id}."
        values[prefix + "memoryUsageBytes"] = float(usage.memory_usage)
        if usage.total_memory:
            values[prefix + "memoryUsage"] = usage.memory_usage / usage.total_memory * 100.0
        values[prefix + "dutyCycle"] = float(usage.duty_cycle_pct)
    return values


class TpuCollector(Collector):
    """HBM use and TensorCore duty cycle of the local TPU chips."""

    name = "tpu"
    slow = True

    def __init__(
        self,
        run: Callable[[Sequence[str]], bytes] = run_tool,
        library: str | None = "tpu_info",
        device_glob: str = "/dev/accel*",
    ) -> None:
        self._run = run
        self._library = library
        self._device_glob = device_glob
        self._metrics: ModuleType | None = None
        self._chip_type: Any = None
        self._info: dict[str, object] = {}
        self._rpc_error: type[BaseException] = ConnectionError
        self._idle_logged = False

    def probe(self) -> Probe:
        if self._library:
            try:
                device = importlib.import_module(f"{self._library}.device")
                metrics = importlib.import_module(f"{self._library}.metrics")
            except ImportError:
                pass
            else:
                try:
                    chip_type, count = device.get_local_chips()
                except Exception as exc:  # a missing PCI tree or driver surfaces variously
                    return Probe(False, f"tpu_info cannot list chips: {exc}")
                if chip_type is None or not count:
                    return Probe(False, "no TPU chips")
                self._metrics, self._chip_type = metrics, chip_type
                self._rpc_error = importlib.import_module("grpc").RpcError
                self._info = {"source": "tpu_info", "chip_type": str(chip_type), "chips": count}
                return Probe(True)
        if which(TPU_INFO[0]) is None:
            return Probe(
                False, "neither the tpu_info package nor the tpu-info command is installed"
            )
        if not glob.glob(self._device_glob) and not glob.glob("/dev/vfio/[0-9]*"):
            return Probe(False, "no TPU device")
        self._info = {"source": "tpu-info"}
        return Probe(True)

    def sample(self) -> dict[str, float]:
        # Until a workload starts libtpu's metrics server, both paths fail: that
        # is "nothing to report yet", not a fault that should disable the collector.
        if self._metrics is not None:
            try:
                return usage_values(self._metrics.get_chip_usage(self._chip_type))
            except (self._rpc_error, AssertionError) as exc:
                self._quiet(exc)
                return {}
        try:
            return parse_tpu_info(self._run(TPU_INFO).decode(errors="replace"))
        except RuntimeError as exc:
            self._quiet(exc)
            return {}

    def _quiet(self, exc: BaseException) -> None:
        if not self._idle_logged:
            self._idle_logged = True
            log.info("labdeck: no TPU runtime metrics yet: %s", exc)

    def info(self) -> dict[str, object]:
        return dict(self._info)
