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
            "openmetrics_histograms",
            "Also records the histograms and summaries scraped from OpenMetrics endpoints "
            "(their _bucket, _sum and _count series and quantiles), not only gauges and "
            "counters. Histograms can add many series per endpoint.",
        ),
        Feature(
            "proc_memory_pss",
            "Adds proc.memory.pssMB, the proportional set size of the monitored process "
            "tree (shared pages split fairly). Reading it walks /proc/<pid>/smaps, about a "
            "millisecond a process, so it runs on its own slower cadence.",
        ),
        Feature(
            "chart_zoom_refetch",
            "When you zoom into a live chart, it fetches the full-resolution data for the "
            "zoomed window from the server instead of stretching the downsampled points.",
        ),
    )
}
