"""The beta-feature registry (F-US-3): every flag a user may toggle.

Flags live in code, not in the database, because each one gates code: a flag
without the behaviour behind it would be a lie in the settings panel. A
user's choice is a `BetaFeature` row; no row means off.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    description: str


FLAGS: dict[str, Feature] = {
    feature.name: feature
    for feature in (
        Feature(
            "gpu_process_metrics",
            "Per-process GPU attribution: records gpu.process.{i}.* for the GPUs that the "
            "monitored process tree uses. Uses NVML's process list, a slow query that runs "
            "on its own, slower cadence.",
        ),
        Feature(
            "proc_memory_pss",
            "Adds proc.memory.pssMB, the proportional set size of the monitored process "
            "tree (shared pages split fairly). Reading it walks /proc/<pid>/smaps, which "
            "costs about a millisecond a sample.",
        ),
        Feature(
            "chart_zoom_refetch",
            "When you zoom into a live chart, it fetches the full-resolution data for the "
            "zoomed window from the server instead of stretching the downsampled points.",
        ),
    )
}
