"""Run the real NVML collectors on a GPU machine and print what they report.

    python tests/kernel/nvidia_device_check.py

Not collected by pytest (no `test_` prefix): it needs an NVIDIA driver. It
prints every key and value of two samples one second apart, the cost of each
call, and `info()`; when PyTorch is importable it also holds 256 MiB on
cuda:0 and checks that `gpu.process.0.*` attributes it to this process.
Exits 1 when no `gpu.0.*` key came back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "kernel"), str(ROOT / "backend")]

from labdeck.kernel.collectors.nvidia import (  # noqa: E402
    NvidiaCollector,
    NvidiaProcessCollector,
    NvmlSession,
)


def _hold_gpu_memory() -> object | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda:0")


def _timed(label: str, call: Callable[[], dict[str, float]]) -> dict[str, float]:
    start = time.perf_counter()
    values: dict[str, float] = call()
    print(f"{label}: {(time.perf_counter() - start) * 1e3:.3f} ms, {len(values)} keys")
    return values


def main() -> int:
    session = NvmlSession()
    devices = NvidiaCollector(session)
    processes = NvidiaProcessCollector(session, os.getpid())
    probe = devices.probe()
    print(f"probe: {probe}")
    if not probe.present:
        return 1
    processes.probe()
    held = _hold_gpu_memory()
    try:
        _timed("fast sample (cold)", devices.sample)
        owned = _timed("process sample", processes.sample)
        time.sleep(1.0)
        values = _timed("fast sample", devices.sample)
        values.update(owned)
        for key in sorted(values):
            print(f"  {key:45s} {values[key]:.6g}")
        print("info:", json.dumps(devices.info(), indent=2, default=str))
    finally:
        processes.close()
        devices.close()
    if held is not None:
        attributed = "gpu.process.0.processMemoryBytes" in values
        print(f"torch holds 256 MiB on cuda:0; attributed to this process: {attributed}")
    if not any(key.startswith("gpu.0.") for key in values):
        print("FAIL: no gpu.0.* key")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
