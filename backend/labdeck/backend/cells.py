"""The per-cell ledger's rows as people read them (F-SM-12): the columns,
their formatting and order, and the comparison of two runs' cells.

Pure functions over the rows `GET /runs/{run_id}/cells` answers (and the
kernel's live rows, which have the same fields), shared by the ledger table
(`labdeck.widgets.ledger`) and `labdeck.compare_cells`; no I/O here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
MB = 1024.0 * 1024.0


def _num(row: Row, key: str) -> float | None:
    value = row.get(key)
    return None if value is None else float(value)


def duration(row: Row) -> float | None:
    if row.get("duration_s") is not None:
        return float(row["duration_s"])
    end = row.get("end_t")
    return None if end is None else float(end) - float(row["start_t"])


def gpu_memory_peak(row: Row) -> float | None:
    values = [g["memory_peak_bytes"] for g in row.get("gpus") or [] if g.get("memory_peak_bytes")]
    return float(max(values)) if values else None


def gpu_util(row: Row) -> float | None:
    values = [g["util_mean"] for g in row.get("gpus") or [] if g.get("util_mean") is not None]
    return float(max(values)) if values else None


def gpu_energy(row: Row) -> float | None:
    values = [g["energy_j"] for g in row.get("gpus") or [] if g.get("energy_j") is not None]
    return float(sum(values)) if values else None


def energy_estimated(row: Row) -> bool:
    return any(g.get("energy_estimated") for g in row.get("gpus") or [])


def _seconds(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 100 else f"{v:,.0f}")


def _mb(v: float | None) -> str:
    return "–" if v is None else f"{v / MB:,.1f}"


def _signed_mb(v: float | None) -> str:
    return "–" if v is None else f"{v / MB:+,.1f}"


def _percent(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


def _joules(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


@dataclass(frozen=True)
class Column:
    """One column of the table: its title, the number it sorts by and its text."""

    key: str
    title: str
    value: Callable[[Row], Any]
    text: Callable[[Row], str]
    numeric: bool = True


def _bytes_of(key: str) -> Callable[[Row], float | None]:
    return lambda row: _num(row, key)


def _io(row: Row, *keys: str) -> float | None:
    values = [float(row[k]) for k in keys if row.get(k) is not None]
    return sum(values) if values else None


COLUMNS: tuple[Column, ...] = (
    Column(
        "execution_count",
        "In",
        lambda r: r.get("execution_count"),
        lambda r: "" if r.get("execution_count") is None else f"[{r['execution_count']}]",
    ),
    Column(
        "first_line",
        "Cell",
        lambda r: r.get("first_line") or "",
        lambda r: r.get("first_line") or "",
        False,
    ),
    Column("duration_s", "Duration (s)", duration, lambda r: _seconds(duration(r))),
    Column(
        "cpu_seconds",
        "CPU (s)",
        _bytes_of("cpu_seconds"),
        lambda r: _seconds(_num(r, "cpu_seconds")),
    ),
    Column(
        "rss_peak_bytes",
        "Peak RSS (MB)",
        _bytes_of("rss_peak_bytes"),
        lambda r: _mb(_num(r, "rss_peak_bytes")),
    ),
    Column(
        "rss_delta_bytes",
        "ΔRSS (MB)",
        _bytes_of("rss_delta_bytes"),
        lambda r: _signed_mb(_num(r, "rss_delta_bytes")),
    ),
    Column(
        "disk_bytes",
        "Disk r/w (MB)",
        lambda r: _io(r, "disk_read_bytes", "disk_write_bytes"),
        lambda r: f"{_mb(_num(r, 'disk_read_bytes'))} / {_mb(_num(r, 'disk_write_bytes'))}",
    ),
    Column(
        "net_bytes",
        "Net s/r (MB)",
        lambda r: _io(r, "net_sent_bytes", "net_recv_bytes"),
        lambda r: f"{_mb(_num(r, 'net_sent_bytes'))} / {_mb(_num(r, 'net_recv_bytes'))}",
    ),
)
GPU_COLUMNS: tuple[Column, ...] = (
    Column("gpu_memory", "GPU mem peak (MB)", gpu_memory_peak, lambda r: _mb(gpu_memory_peak(r))),
    Column("gpu_util", "GPU util (%)", gpu_util, lambda r: _percent(gpu_util(r))),
    Column(
        "gpu_energy",
        "GPU energy (J)",
        gpu_energy,
        lambda r: _joules(gpu_energy(r)) + (" (est.)" if energy_estimated(r) else ""),
    ),
)


def columns_for(rows: Iterable[Row]) -> tuple[Column, ...]:
    """The GPU columns only when some cell ran with a GPU sampled."""
    return COLUMNS + (GPU_COLUMNS if any(r.get("gpus") for r in rows) else ())


def sort_rows(rows: Sequence[Row], key: str, descending: bool = False) -> list[Row]:
    """Rows ordered by one column; cells without the figure go last either way."""
    column = next(c for c in COLUMNS + GPU_COLUMNS if c.key == key)
    present = [r for r in rows if column.value(r) is not None]
    missing = [r for r in rows if column.value(r) is None]
    return sorted(present, key=column.value, reverse=descending) + missing


# -- comparing two runs ---------------------------------------------------------

COMPARED: tuple[tuple[str, str, Callable[[Row], float | None]], ...] = (
    ("duration_s", "duration (s)", duration),
    ("cpu_seconds", "CPU (s)", lambda r: _num(r, "cpu_seconds")),
    ("rss_peak_bytes", "peak RSS (MB)", lambda r: _num(r, "rss_peak_bytes")),
)


def source_key(row: Row, whole: bool = True) -> str:
    """What lines two runs' cells up: the whole source when it was saved
    (and `whole`), else the first line."""
    source = row.get("source") if whole else None
    return str(source or row.get("first_line") or "").strip()


def pair_cells(a: Sequence[Row], b: Sequence[Row]) -> list[tuple[Row | None, Row | None]]:
    """Cells of two runs lined up by source: the k-th run of a source in `a`
    with its k-th run in `b` (a cell run twice is two rows); in `a`'s order,
    then the cells only `b` ran, in `b`'s order. Whole sources are compared
    when both runs saved every cell's code, else first lines."""
    whole = all(r.get("source") is not None for r in (*a, *b))
    queue: dict[str, list[Row]] = defaultdict(list)
    for row in b:
        queue[source_key(row, whole)].append(row)
    pairs: list[tuple[Row | None, Row | None]] = []
    for row in a:
        waiting = queue.get(source_key(row, whole))
        pairs.append((row, waiting.pop(0) if waiting else None))
    matched = {id(other) for _, other in pairs if other is not None}
    pairs += [(None, row) for row in b if id(row) not in matched]
    return pairs


def compare(a: Sequence[Row], b: Sequence[Row]) -> list[Row]:
    """One row per lined-up cell: each compared figure in both runs, its
    change (`b - a`) and ratio (`b / a`), and `slower`/`heavier` flags."""
    out: list[Row] = []
    for left, right in pair_cells(a, b):
        either = left if left is not None else right
        assert either is not None
        row: Row = {
            "first_line": either.get("first_line") or "",
            "a_execution_count": None if left is None else left.get("execution_count"),
            "b_execution_count": None if right is None else right.get("execution_count"),
        }
        for key, _, value in COMPARED:
            va = None if left is None else value(left)
            vb = None if right is None else value(right)
            row[f"{key}_a"], row[f"{key}_b"] = va, vb
            row[f"{key}_delta"] = None if va is None or vb is None else vb - va
            row[f"{key}_ratio"] = None if va is None or vb is None or va <= 0 else vb / va
        row["slower"] = (row["duration_s_ratio"] or 0) > 1.1
        row["heavier"] = (row["cpu_seconds_ratio"] or 0) > 1.1 or (
            row["rss_peak_bytes_ratio"] or 0
        ) > 1.1
        out.append(row)
    return out
