"""Runs of a project, their metric samples and cell markers.

`GET /runs/{run_id}/markers` is an addition to API.md: the notebook cells that
ran while the run was monitoring, drawn as bands on its charts.
"""

from __future__ import annotations

import re
from typing import Any

from labdeck.backend.downsample import MIN_POINTS
from labdeck.backend.services import ingest, markers, metrics, runs

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
            {"name": s.STR, "config": s.ANYOBJ, "attribute_to": s.STR, "system": s.ANYOBJ}
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
        "Write a batch of samples; a point already stored at the same time is kept",
        TAG,
        request=s.METRICS_WRITE,
        response=METRICS_WRITTEN,
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
    ),
    Endpoint(
        "GET",
        "/runs/{run_id}/markers",
        list_cell_markers,
        "Notebook cells that ran while the run was monitoring (chart bands)",
        TAG,
        response=s.array(CELL_MARKER),
    ),
]
