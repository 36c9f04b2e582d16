"""The run a Jupyter kernel is recording, with its latest values (F-UI-8).

JupyterLab's status bar knows the current notebook's kernel id, not the run:
the kernel side records that id in the run's `system` info when it starts a
monitor (`KERNEL_ID_KEY`), and this service finds the caller's running run
of that kernel. One read answers the run and the newest point of each of its
series, so the status bar makes one request per refresh however many
metrics the run has.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from .. import validate
from ..access import actor_user
from ..context import Actor, Backend
from ..models import MetricPoint, MetricSeries, Run, User
from .runs import load_run, run_view

# The key of a run's `system` info that holds the Jupyter kernel id.
KERNEL_ID_KEY = "jupyter_kernel_id"
KERNEL_ID_MAX = 128


def kernel_run(backend: Backend, actor: Actor, kernel_id: str) -> dict[str, Any]:
    """The newest running run that the caller logs (or is credited with) from
    kernel `kernel_id`, or `run: null`. Someone else's kernel never shows
    here, even one whose run the caller may see."""
    wanted = validate.text(kernel_id, "kernel_id", max_len=KERNEL_ID_MAX, min_len=1)
    with backend.db.reader() as session:
        user = actor_user(session, actor)
        run_id = session.scalar(
            select(Run.id)
            .where(
                Run.state == "running",
                or_(Run.created_by == user.id, Run.logged_by == user.id),
                Run.system[KERNEL_ID_KEY].as_string() == wanted,
            )
            .order_by(Run.created_at.desc(), Run.id.desc())
            .limit(1)
        )
        if run_id is None:
            return {"run": None, "latest": {}, "latest_t": None}
        run, found = load_run(session, user, run_id)
        found.require("view experiment metadata", user)
        latest = session.execute(
            select(MetricSeries.key, MetricPoint.t, MetricPoint.v)
            .join(
                MetricPoint,
                (MetricPoint.series_id == MetricSeries.id) & (MetricPoint.t == MetricSeries.last_t),
            )
            .where(MetricSeries.run_id == run.id)
        ).all()
        view = run_view(
            run, found.project, session.get(User, run.created_by), session.get(User, run.logged_by)
        )
        return {
            "run": view,
            "latest": {key: value for key, _t, value in latest},
            "latest_t": max((t for _key, t, _v in latest), default=None),
        }
