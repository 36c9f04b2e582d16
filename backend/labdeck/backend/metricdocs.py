"""Generate the docs' metric table from the catalogue (`catalogue.KEYS`).

Run `python -m labdeck.backend.metricdocs > docs/metrics.md`; a test fails
when the committed page differs, so the docs can never drift from the code
(as `permdocs.py` does for the permission table).
"""

from __future__ import annotations

from .catalogue import KEYS, Key, describe

# The sources in the order the page lists them, with the section title each
# gets; a source spelled with details ("amd (amdsmi or rocm-smi --json)")
# belongs to its first word.
_SECTIONS = (
    ("psutil", "Host and process (psutil)"),
    ("nvml", "NVIDIA GPUs (NVML)"),
    ("amd", "AMD GPUs"),
    ("apple", "Apple GPUs"),
    ("gcipuinfo", "Graphcore IPUs"),
    ("tpu", "Google TPUs"),
    ("neuron-monitor", "AWS Trainium and Inferentia"),
    ("openmetrics", "OpenMetrics endpoints"),
)


def _section(key: Key) -> str:
    head = key.source.split(" ", 1)[0]
    for source, title in _SECTIONS:
        if head == source:
            return title
    raise ValueError(f"metric source {key.source!r} has no section in metricdocs")


def _panel(key: Key) -> str:
    """The chart panel a concrete key of this template lands on."""
    concrete = (
        key.key.replace("{i}", "0")
        .replace("{path}", "/")
        .replace("{core_index}", "0")
        .replace("{device_id}", "0")
    )
    if "{" in concrete:
        concrete = concrete.split("{", 1)[0] + "x"
    group = describe(concrete).group
    return group.replace("GPU 0", "GPU {i}") if "{i}" in key.key else group


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        "# Metrics",
        "",
        "Generated from `labdeck/backend/catalogue.py` by",
        "`python -m labdeck.backend.metricdocs`; do not edit by hand.",
        "",
        "Every key a monitor may record, its unit and what it means. In a key,",
        "`{i}` is a device's index, `{path}` a disk path of the `disk_paths` setting",
        "([configuration.md](configuration.md)), `{a|b}` one of the names listed. A",
        "collector whose library, tool or device is missing records nothing; its keys",
        "are simply absent from the run. Charts put each key on the panel named here,",
        "one unit a panel. How the sampler takes them, how often and at what cost:",
        "[sampling.md](sampling.md).",
    ]
    section = None
    for key in sorted(KEYS, key=lambda k: [title for _, title in _SECTIONS].index(_section(k))):
        if _section(key) != section:
            section = _section(key)
            lines += [
                "",
                f"## {section}",
                "",
                "| key | unit | panel | source | meaning |",
                "|---|---|---|---|---|",
            ]
        cells = (f"`{key.key}`", key.unit, _panel(key), key.source, key.meaning)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
