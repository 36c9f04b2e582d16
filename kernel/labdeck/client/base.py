"""The one interface between the kernel layer and labdeck's services.

Every method is one service call (or, over REST, one request, except
`ensure_project`), answers what the REST API answers, and raises the
typed errors of `labdeck.backend.errors` (a refused write changed nothing;
`RetryLater` means "try again later, nothing was lost").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Client(Protocol):
    """What a kernel may ask of labdeck, as the account it proved it is."""

    #: "direct" (the database in this process) or "service" (REST).
    mode: str

    # -- who, and where runs go -------------------------------------------------
    def profile(self) -> dict[str, Any]:
        """The caller's own account (`GET /me`)."""
        ...

    def ensure_project(self, spec: str) -> dict[str, Any]:
        """`monitor(project=...)`: "name" (the caller's own) or "entity/name";
        the project view, the project created when it is missing and allowed."""
        ...

    def beta_features(self) -> set[str]:
        """The names of the caller's beta features that are on."""
        ...

    # -- a run's life -----------------------------------------------------------
    def create_run(
        self,
        entity: str,
        project: str,
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        attribute_to: str | None = None,
        system: Mapping[str, Any] | None = None,
        save_code: bool | None = None,
    ) -> dict[str, Any]:
        """A running run; `save_code` is the user's choice of code saving
        (F-TS-4), None the team's default."""
        ...

    def write_samples(self, run_id: str, samples: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """One batch (within the server's limits, `ingest.first_batch`); a
        re-sent batch is safe: points already stored count as duplicates."""
        ...

    def heartbeat(self, run_id: str) -> None: ...

    def warm_up(self, run_id: str) -> None:
        """A heartbeat that also pays the first write's one-off costs ahead
        (the recorder calls it on its thread as it starts)."""
        ...

    def end_run(
        self, run_id: str, state: str, *, dropped_samples: int = 0, error: str = ""
    ) -> dict[str, Any]:
        """End the run `finished` or `crashed`, recording in its `system`
        how many samples the kernel had to drop (`dropped_samples`); `error`,
        a crash's last error line, goes into its alert."""
        ...

    def raise_idle_alert(self, run_id: str, **facts: Any) -> dict[str, Any]:
        """The run's kernel has been idle while holding resources (F-SM-13):
        `idle_s`, `notebook`, `kernel_id`, `gpu_memory_bytes`,
        `gpu_util_percent`, `cpu_percent`."""
        ...

    def add_marker(
        self, run_id: str, execution_count: int | None, first_line: str, start_t: float
    ) -> dict[str, Any]: ...

    def end_marker(
        self,
        run_id: str,
        marker_id: int,
        end_t: float,
        error: bool = False,
        usage: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The cell ended; `usage` is its ledger row's figures (F-SM-12,
        `kernel/ledger.py`: cpu_seconds, rss_peak_bytes, …, gpus)."""
        ...

    def send_alert(
        self,
        title: str,
        text: str = "",
        level: str = "INFO",
        wait_duration: float = 0.0,
        run_id: str | None = None,
    ) -> dict[str, Any]: ...

    # -- reads ------------------------------------------------------------------
    def get_run(self, run_id: str) -> dict[str, Any]: ...

    def list_runs(self, entity: str, project: str, *, limit: int = 100) -> dict[str, Any]: ...

    def read_series(
        self,
        run_id: str,
        *,
        keys: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        max_points: int | None = None,
    ) -> dict[str, Any]: ...

    def list_markers(self, run_id: str) -> list[dict[str, Any]]: ...

    def save_code(
        self, run_id: str, kind: str, name: str, text: str, marker_id: int | None = None
    ) -> dict[str, Any]:
        """Keep one file of the run's code (`kind`: cell, command or script);
        refused (`Conflict`) when the run does not save code."""
        ...

    def list_code(self, run_id: str) -> dict[str, Any]:
        """The run's saved code, in order (`GET /runs/{id}/code`)."""
        ...

    def list_cells(self, run_id: str) -> list[dict[str, Any]]:
        """The run's per-cell ledger (`GET /runs/{id}/cells`), in order."""
        ...

    def list_alert_marks(self, run_id: str) -> list[dict[str, Any]]:
        """Threshold breaches and recoveries on the run (`GET /runs/{id}/alert-marks`)."""
        ...

    def settings_overview(self) -> dict[str, Any]:
        """What `labdeck.settings()` shows when it cannot edit in place: the
        profile, email addresses, API keys (never their secrets), beta
        features, alert preferences and teams."""
        ...
