"""The client that calls labdeck's services in this process, on the
database of the `database_url` setting (the embedded mode).

It is made once per process (`mode.client`): one `Backend`, so one engine
and its pool, and one schema check, however many monitors, alerts, run
lists and charts the notebook asks for. Its imports (SQLAlchemy, the models)
are paid the first time a direct client is made, not when the kernel layer
is imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import (
    alert_rules,
    alert_settings,
    alerts,
    apikeys,
    beta_features,
    code,
    emails,
    ingest,
    markers,
    metrics,
    profile,
    projects,
    runs,
    teams,
)


class DirectClient:
    mode = "direct"

    def __init__(self, backend: Backend, actor: Actor) -> None:
        self.backend = backend
        self.actor = actor

    def profile(self) -> dict[str, Any]:
        return profile.get_profile(self.backend, self.actor)

    def ensure_project(self, spec: str) -> dict[str, Any]:
        return projects.ensure_project(self.backend, self.actor, spec)

    def beta_features(self) -> set[str]:
        return set(beta_features.enabled_beta_features(self.backend, self.actor))

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
        return runs.create_run(
            self.backend,
            self.actor,
            entity,
            project,
            name=name,
            config=config,
            attribute_to=attribute_to,
            system=system,
            save_code=save_code,
        )

    def write_samples(self, run_id: str, samples: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        return ingest.write_samples(self.backend, self.actor, run_id, samples)

    def heartbeat(self, run_id: str) -> None:
        ingest.heartbeat(self.backend, self.actor, run_id)

    def warm_up(self, run_id: str) -> None:
        ingest.warm_up(self.backend, self.actor, run_id)

    def end_run(
        self, run_id: str, state: str, *, dropped_samples: int = 0, error: str = ""
    ) -> dict[str, Any]:
        return runs.end_run(
            self.backend, self.actor, run_id, state, dropped_samples=dropped_samples, error=error
        )

    def raise_idle_alert(self, run_id: str, **facts: Any) -> dict[str, Any]:
        return alerts.raise_idle_alert(self.backend, self.actor, run_id, **facts)

    def add_marker(
        self, run_id: str, execution_count: int | None, first_line: str, start_t: float
    ) -> dict[str, Any]:
        return markers.add_cell_marker(
            self.backend, self.actor, run_id, execution_count, first_line, start_t
        )

    def end_marker(
        self,
        run_id: str,
        marker_id: int,
        end_t: float,
        error: bool = False,
        usage: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return markers.end_cell_marker(
            self.backend, self.actor, run_id, marker_id, end_t, error, usage
        )

    def send_alert(
        self,
        title: str,
        text: str = "",
        level: str = "INFO",
        wait_duration: float = 0.0,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        return alerts.send_alert(
            self.backend, self.actor, title, text, level, wait_duration, run_id=run_id
        )

    def get_run(self, run_id: str) -> dict[str, Any]:
        return runs.get_run(self.backend, self.actor, run_id)

    def list_runs(self, entity: str, project: str, *, limit: int = 100) -> dict[str, Any]:
        return runs.list_runs(self.backend, self.actor, entity, project, limit=limit)

    def read_series(
        self,
        run_id: str,
        *,
        keys: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        max_points: int | None = None,
    ) -> dict[str, Any]:
        return metrics.read_series(
            self.backend,
            self.actor,
            run_id,
            keys=list(keys) if keys else None,
            start=start,
            end=end,
            max_points=max_points,
        )

    def list_markers(self, run_id: str) -> list[dict[str, Any]]:
        return markers.list_markers(self.backend, self.actor, run_id)

    def save_code(
        self, run_id: str, kind: str, name: str, text: str, marker_id: int | None = None
    ) -> dict[str, Any]:
        return code.save_code(self.backend, self.actor, run_id, kind, name, text, marker_id)

    def list_code(self, run_id: str) -> dict[str, Any]:
        return code.list_code(self.backend, self.actor, run_id)

    def list_cells(self, run_id: str) -> list[dict[str, Any]]:
        return markers.list_cells(self.backend, self.actor, run_id)

    def list_alert_marks(self, run_id: str) -> list[dict[str, Any]]:
        return alert_rules.list_alert_marks(self.backend, self.actor, run_id)

    def settings_overview(self) -> dict[str, Any]:
        b, a = self.backend, self.actor
        return {
            "profile": profile.get_profile(b, a),
            "emails": emails.list_emails(b, a),
            "api_keys": apikeys.list_keys(b, a),
            "beta_features": beta_features.list_beta_features(b, a),
            "alerts": alert_settings.get_alert_settings(b, a),
            "teams": teams.list_my_teams(b, a),
        }
