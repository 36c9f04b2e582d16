"""Runs of a project, their metric samples and cell markers.

`GET /runs/{run_id}/markers`: the notebook cells that ran while the run was
monitoring, drawn as bands on its charts. Here too are the routes a kernel in
client mode records with (docs/hub.md): its heartbeat, the end of its run
(`finished` or `crashed`, with the samples it dropped), and its cell markers.
"""

from __future__ import annotations

import re
from typing import Any

from labdeck.backend.downsample import MIN_POINTS
from labdeck.backend.services import code, ingest, markers, metrics, runs

from .. import schemas as s
from ..endpoint import Call, Endpoint, Raw
from .projects import PAGE_QUERY, closed

TAG = "runs"
NINT: dict[str, Any] = {"type": ["integer", "null"]}
NNUM: dict[str, Any] = {"type": ["number", "null"]}
METRICS_WRITTEN = s.obj({"written": s.INT, "duplicates": s.INT})
CELL_MARKER = s.obj(
    {
        "id": s.INT,
        "run_id": s.STR,
        "execution_count": NINT,
        "first_line": s.STR,
        "start_t": s.NUM,
        "end_t": NNUM,
        "error": s.BOOL,
    }
)
NBYTES: dict[str, Any] = {"type": ["integer", "null"]}
GPU_CELL = s.obj(
    {
        "index": s.INT,
        "memory_peak_bytes": NBYTES,
        "util_mean": NNUM,
        "energy_j": NNUM,
        "energy_estimated": s.BOOL,
    }
)
LEDGER_FIGURES: dict[str, Any] = {
    "cpu_seconds": NNUM,
    "rss_peak_bytes": NBYTES,
    "rss_delta_bytes": NBYTES,
    "disk_read_bytes": NBYTES,
    "disk_write_bytes": NBYTES,
    "net_sent_bytes": NBYTES,
    "net_recv_bytes": NBYTES,
}
CELL = s.obj(
    {
        **CELL_MARKER["properties"],
        "duration_s": NNUM,
        **LEDGER_FIGURES,
        "gpus": s.array(GPU_CELL),
    }
)
CODE_FILE = s.obj(
    {
        "seq": s.INT,
        "kind": s.STR,
        "name": s.STR,
        "marker_id": NINT,
        "size_bytes": s.INT,
    }
)
CODE = s.obj(
    {
        "code_saving": s.BOOL,
        "files": s.array(
            {
                **CODE_FILE,
                "properties": {
                    **CODE_FILE["properties"],
                    "execution_count": NINT,
                    "text": {"type": ["string", "null"]},
                },
                "required": [*CODE_FILE["required"], "execution_count", "text"],
            }
        ),
    }
)
USAGE = {
    **s.body({**LEDGER_FIGURES, "gpus": {"type": ["array", "null"], "items": GPU_CELL}}),
    "additionalProperties": False,
}


def list_runs(call: Call) -> dict[str, Any]:
    return runs.list_runs(
        call.backend,
        call.me,
        call.params["entity"],
        call.params["project"],
        limit=call.arg("limit"),
        cursor=call.arg("cursor"),
    )


def create_run(call: Call) -> dict[str, Any]:
    body = call.json()
    return runs.create_run(
        call.backend,
        call.me,
        call.params["entity"],
        call.params["project"],
        name=body.get("name"),
        config=body.get("config"),
        attribute_to=body.get("attribute_to"),
        system=body.get("system"),
        save_code=body.get("save_code"),
    )


def get_run(call: Call) -> dict[str, Any]:
    return runs.get_run(call.backend, call.me, call.params["run_id"])


def patch_run(call: Call) -> dict[str, Any]:
    return runs.patch_run(call.backend, call.me, call.params["run_id"], call.json())


def delete_run(call: Call) -> None:
    runs.delete_run(call.backend, call.me, call.params["run_id"])


def stop_run(call: Call) -> dict[str, Any]:
    return runs.stop_run(call.backend, call.me, call.params["run_id"])


def move_run(call: Call) -> dict[str, Any]:
    body = call.json()
    return runs.move_run(
        call.backend,
        call.me,
        call.params["run_id"],
        call.field(body, "entity"),
        call.field(body, "project"),
    )


def write_metrics(call: Call) -> dict[str, int]:
    # One JSON parse and one service call per batch: this is the hot path.
    samples = call.field(call.json(), "samples")
    return ingest.write_samples(call.backend, call.me, call.params["run_id"], samples)


_KEY_SEPARATOR = re.compile(r",(?![^{]*\})")


def _keys(call: Call) -> list[str] | None:
    """`?keys=a,b` and `?keys=a&keys=b` alike; absent or empty means every key.
    A comma inside an OpenMetrics key's `{labels}` does not separate keys."""
    keys = [key for raw in call.query.get("keys", []) for key in _KEY_SEPARATOR.split(raw) if key]
    return keys or None


def read_metrics(call: Call) -> dict[str, Any]:
    return metrics.read_series(
        call.backend,
        call.me,
        call.params["run_id"],
        keys=_keys(call),
        start=call.arg("start"),  # type: ignore[arg-type]  # the service parses text
        end=call.arg("end"),  # type: ignore[arg-type]
        max_points=call.arg("max_points"),  # type: ignore[arg-type]
    )


def export_metrics_csv(call: Call) -> Raw:
    run_id = call.params["run_id"]
    text = metrics.export_csv(call.backend, call.me, run_id)
    return Raw(text.encode("utf-8"), "text/csv; charset=utf-8", f"{run_id}-metrics.csv")


def list_cell_markers(call: Call) -> list[dict[str, Any]]:
    return markers.list_markers(call.backend, call.me, call.params["run_id"])


def save_code(call: Call) -> dict[str, Any]:
    body = call.json()
    return code.save_code(
        call.backend,
        call.me,
        call.params["run_id"],
        call.field(body, "kind"),
        call.field(body, "name"),
        call.field(body, "text"),
        call.field(body, "marker_id", required=False),
    )


def list_code(call: Call) -> dict[str, Any]:
    return code.list_code(call.backend, call.me, call.params["run_id"])


def list_cells(call: Call) -> list[dict[str, Any]]:
    return markers.list_cells(call.backend, call.me, call.params["run_id"])


def add_cell_marker(call: Call) -> dict[str, Any]:
    body = call.json()
    return markers.add_cell_marker(
        call.backend,
        call.me,
        call.params["run_id"],
        call.field(body, "execution_count", required=False),
        call.field(body, "first_line", required=False) or "",
        call.field(body, "start_t"),
    )


def end_cell_marker(call: Call) -> dict[str, Any]:
    body = call.json()
    return markers.end_cell_marker(
        call.backend,
        call.me,
        call.params["run_id"],
        call.int_param("marker_id"),
        call.field(body, "end_t"),
        call.field(body, "error", required=False) or False,
        call.field(body, "usage", required=False),
    )


def heartbeat(call: Call) -> dict[str, Any]:
    return ingest.heartbeat(call.backend, call.me, call.params["run_id"])


def end_run(call: Call) -> dict[str, Any]:
    body = call.json()
    return runs.end_run(
        call.backend,
        call.me,
        call.params["run_id"],
        call.field(body, "state"),
        dropped_samples=call.field(body, "dropped_samples", required=False),
        error=call.field(body, "error", required=False) or "",
    )


ROUTES = [
    Endpoint(
        "GET",
        "/projects/{entity}/{project}/runs",
        list_runs,
        "Runs of a project, newest first (paginated)",
        TAG,
        response=s.page(s.RUN),
        query=PAGE_QUERY,
    ),
    Endpoint(
        "POST",
        "/projects/{entity}/{project}/runs",
        create_run,
        "Start a run (`running`); a service account may attribute it to a team member",
        TAG,
        request=s.body(
            {
                "name": s.STR,
                "config": s.ANYOBJ,
                "attribute_to": s.STR,
                "system": s.ANYOBJ,
                "save_code": s.BOOL,
            }
        ),
        response=s.RUN,
        status=201,
    ),
    Endpoint("GET", "/runs/{run_id}", get_run, "A run", TAG, response=s.RUN),
    Endpoint(
        "PATCH",
        "/runs/{run_id}",
        patch_run,
        "Edit a run's name, notes or config",
        TAG,
        request=closed({"name": s.STR, "notes": s.STR, "config": s.ANYOBJ}),
        response=s.RUN,
    ),
    Endpoint(
        "DELETE", "/runs/{run_id}", delete_run, "Delete a run and its metrics", TAG, status=204
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/stop",
        stop_run,
        "Stop a running run (it ends `finished`)",
        TAG,
        response=s.RUN,
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/move",
        move_run,
        "Move a run to another project",
        TAG,
        request=s.body({"entity": s.STR, "project": s.STR}, required=["entity", "project"]),
        response=s.RUN,
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/metrics",
        write_metrics,
        f"Write a batch of samples (at most {ingest.MAX_SAMPLES} samples and "
        f"{ingest.MAX_POINTS_PER_CALL} points: a bigger batch answers 413, send it in parts); "
        "a point already stored at the same time is kept",
        TAG,
        request=s.METRICS_WRITE,
        response=METRICS_WRITTEN,
        kernel_write=True,
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/metrics",
        read_metrics,
        "Read a run's series, each downsampled to `max_points` when longer",
        TAG,
        response=s.METRICS_READ,
        query=(
            ("keys", s.STR, "metric keys, comma-separated or repeated (default: all)"),
            ("start", s.NUM, "from this time (unix seconds)"),
            ("end", s.NUM, "until this time (unix seconds)"),
            (
                "max_points",
                {"type": "integer", "minimum": MIN_POINTS, "maximum": metrics.MAX_READ_POINTS},
                "at most this many points per series (default: every point)",
            ),
        ),
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/metrics.csv",
        export_metrics_csv,
        "Export every point as CSV: a `t` column and one column per key",
        TAG,
        response={"type": "string"},
        response_type="text/csv",
        long=True,
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/markers",
        list_cell_markers,
        "Notebook cells that ran while the run was monitoring (chart bands)",
        TAG,
        response=s.array(CELL_MARKER),
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/cells",
        list_cells,
        "The per-cell ledger: one row per executed cell with its duration, CPU-seconds, "
        "peak and delta RSS, disk and network bytes, and per GPU peak memory, mean "
        "utilization and energy (`energy_estimated` where integrated from power)",
        TAG,
        response=s.array(CELL),
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/code",
        list_code,
        "The run's saved code (F-TS-4), in order: each executed cell's source, or the "
        "command line and script of `labdeck monitor`; empty when code saving is off",
        TAG,
        response=CODE,
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/code",
        save_code,
        "Keep one file of the run's code (its kernel saves each cell's source); refused "
        "with 409 when the run does not save code",
        TAG,
        request=closed(
            {
                "kind": {"type": "string", "enum": ["cell", "command", "script"]},
                "name": s.STR,
                "text": s.STR,
                "marker_id": NINT,
            }
        ),
        response=CODE_FILE,
        status=201,
        kernel_write=True,
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/markers",
        add_cell_marker,
        "A notebook cell started while the run monitors (its kernel records it)",
        TAG,
        request=closed(
            {"execution_count": NINT, "first_line": s.STR, "start_t": s.NUM},
        ),
        response=CELL_MARKER,
        status=201,
        kernel_write=True,
    ),
    Endpoint(
        "PATCH",
        "/runs/{run_id}/markers/{marker_id}",
        end_cell_marker,
        "The cell of a marker finished (or raised)",
        TAG,
        request=closed({"end_t": s.NUM, "error": s.BOOL, "usage": USAGE}),
        response=CELL_MARKER,
        kernel_write=True,
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/heartbeat",
        heartbeat,
        "The recording kernel is alive (a run without heartbeats is reaped `crashed`)",
        TAG,
        response=s.obj({"id": s.STR, "state": s.STR, "heartbeat_at": s.TIME}),
        kernel_write=True,
    ),
    Endpoint(
        "POST",
        "/runs/{run_id}/end",
        end_run,
        "The recording kernel ends its run `finished` or `crashed`, once, with the "
        "number of samples it had to drop",
        TAG,
        request=closed(
            {
                "state": {"type": "string", "enum": ["finished", "crashed"]},
                "dropped_samples": {"type": "integer", "minimum": 0},
                # The last line of a crash's traceback, for its alert.
                "error": s.STR,
            }
        ),
        response=s.RUN,
    ),
]
