"""The `%labdeck` magic (F-UI-1): `%load_ext labdeck`, then

    %labdeck start [--project P] [--interval S] [--disk PATH ...]
                   [--openmetrics NAME=URL ...] [--no-chart]
                   [--save-code | --no-save-code]
    %labdeck stop | status | pause | resume
    %%labdeck [the options of start]   (one cell)

While a monitor started here runs, every executed cell is recorded as a marker.

`%load_ext labdeck` returns at once and prepares, on a thread of its own,
what the first `%labdeck start` needs (the process's client: the database
engine and its one schema check, or nothing in client mode; Plotly and the
widgets of the live chart; NVML's bindings), so that the start itself only
creates the run and shows where the chart will be (issue 13: fast start).
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from labdeck.client import mode

from .charting import PendingChart, attach_chart_when_ready, preload
from .ledger_view import PendingLedger, attach_ledger_when_ready
from .markers import CellMarkers
from .session import Monitor, parse_endpoints

ACTIONS = ("start", "stop", "status", "pause", "resume")
log = logging.getLogger("labdeck")


class Preparation:
    """What `%labdeck start` will need, made ready off the main thread: the
    client first (`client_ready`), then the chart's libraries (`wait()`)."""

    def __init__(self) -> None:
        self.client_ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labdeck-prepare", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            client = mode.client()
            # The queries a start makes first (who, which beta features): the
            # SQL is compiled once per process, here rather than in the start.
            client.beta_features()
        except Exception as exc:
            # `%labdeck start` meets the same problem and reports it.
            log.debug("labdeck: preparing the client failed: %s", exc)
        finally:
            self.client_ready.set()
        try:
            try:
                # NVML's bindings, which the GPU collector's probe loads
                # (half a second), whether or not the machine has a GPU.
                import pynvml  # noqa: F401
            except ImportError:
                pass
            import plotly.graph_objects as go

            # Plotly's widget loads its renderers, which load nbformat and
            # jsonschema, whose format checkers compile grammars on import
            # (rfc3987-syntax, installed with Jupyter): seconds, 10 s on a
            # busy machine. The live chart waits for it, the start does not.
            go.FigureWidget  # noqa: B018
            preload()
        except Exception as exc:
            log.debug("labdeck: preparing the live chart failed: %s", exc)

    def wait(self) -> None:
        self._thread.join()


def _print_status(status: dict[str, Any]) -> None:
    lines = [
        f"labdeck: {status['state']}"
        + (f", run {status['run_id']} in {status['project']}" if status.get("run_id") else ""),
        f"  interval: {status.get('interval')} s, samples taken: {status.get('samples_taken', 0)}"
        f", written: {status.get('samples_written', 0)}",
        "  collectors: " + (", ".join(status.get("active", [])) or "none"),
    ]
    for name, reason in dict(status.get("skipped", {})).items():
        lines.append(f"  skipped {name}: {reason}")
    for name, error in dict(status.get("disabled", {})).items():
        lines.append(f"  disabled {name}: {error}")
    for what, why in dict(status.get("problems", {})).items():
        lines.append(f"  failing {what}: {why}")
    if status.get("samples_pending") or status.get("samples_dropped"):
        lines.append(
            f"  waiting to be written: {status.get('samples_pending', 0)}"
            f", dropped: {status.get('samples_dropped', 0)}"
        )
    if status.get("paused"):
        lines.append("  paused")
    print("\n".join(lines))


@magics_class
class LabdeckMagics(Magics):
    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.monitor: Monitor | None = None
        self.markers: CellMarkers | None = None
        self.preparation = Preparation()
        self.chart: PendingChart | None = None
        self.ledger: PendingLedger | None = None

    def _start(self, args: Any) -> Monitor:
        if self.monitor is not None and self.monitor.state == "running":
            raise RuntimeError(
                f"a monitor is already running (run {self.monitor.run_id}); %labdeck stop first"
            )
        self.preparation.client_ready.wait()
        monitor = Monitor(
            args.project,
            interval=args.interval,
            disk=args.disk or None,
            openmetrics=parse_endpoints(args.openmetrics or []),
            save_code=args.save_code,
        )
        # The chart's place is shown now and the chart drawn there once Plotly
        # is loaded (`Preparation`); no sample or cell taken meanwhile is missed.
        self.chart = (
            None if args.no_chart else attach_chart_when_ready(monitor, self.preparation.wait)
        )
        # The per-cell ledger's table, under the chart (F-SM-12).
        pending = self.chart
        self.ledger = (
            None
            if args.no_chart
            else attach_ledger_when_ready(
                monitor, self.preparation.wait, lambda: pending.wait(0) if pending else None
            )
        )
        monitor.start()
        if self.chart is not None:
            self.chart.build()
        if self.ledger is not None:
            self.ledger.build()
        self.monitor = monitor
        assert self.shell is not None
        self.markers = CellMarkers(self.shell, monitor)
        self.markers.register()
        return monitor

    def _stop(self, state: str = "finished", error: str = "") -> None:
        # Markers first: the closing cell's marker must be written while the
        # run still accepts them.
        if self.markers is not None:
            self.markers.unregister()
            self.markers = None
        if self.monitor is not None:
            self.monitor.stop(state, error)

    @magic_arguments()
    @argument("action", nargs="?", choices=ACTIONS, help="what to do (line magic only)")
    @argument("--project", default=None, help="NAME (your own) or ENTITY/NAME (a team's)")
    @argument("--interval", type=float, default=None, help="seconds between samples (>= 0.1)")
    @argument("--disk", nargs="+", default=None, metavar="PATH", help="disk paths to watch")
    @argument(
        "--openmetrics",
        nargs="+",
        default=None,
        metavar="NAME=URL",
        help="OpenMetrics endpoints to scrape, besides the configured ones",
    )
    @argument("--no-chart", action="store_true", help="do not show the live chart")
    @argument(
        "--save-code",
        dest="save_code",
        action="store_true",
        default=None,
        help="keep each executed cell's source with the run (F-TS-4)",
    )
    @argument(
        "--no-save-code",
        dest="save_code",
        action="store_false",
        default=None,
        help="keep no code, whatever the team's default",
    )
    @line_cell_magic
    def labdeck(self, line: str, cell: str | None = None) -> None:
        """Monitor hardware use of this kernel as a labdeck run."""
        args = parse_argstring(self.labdeck, line)
        if cell is not None:
            if args.action is not None:
                raise ValueError("%%labdeck takes options only: %%labdeck [--project P] ...")
            self._start(args)
            assert self.shell is not None
            failed, error = True, ""
            try:
                result = self.shell.run_cell(cell)
                failed = not result.success
                raised = result.error_in_exec or result.error_before_exec
                if raised is not None:
                    error = "".join(traceback.format_exception_only(type(raised), raised))
            finally:
                self._stop("crashed" if failed else "finished", error)
            return
        action = args.action or "status"
        if action == "start":
            monitor = self._start(args)
            print(f"labdeck: monitoring as run {monitor.run_id} in {monitor.status()['project']}")
        elif self.monitor is None:
            print("labdeck: no monitor in this kernel; %labdeck start begins one")
        elif action == "stop":
            if self.monitor.state != "running":
                # A `%%labdeck` cell that crashed, or a second stop: nothing runs.
                print(
                    f"labdeck: no monitor running (run {self.monitor.run_id} ended "
                    f"{self.monitor.state}); %labdeck start begins one"
                )
            else:
                self._stop()
                print(f"labdeck: run {self.monitor.run_id} finished")
        elif action == "status":
            _print_status(self.monitor.status())
        elif action == "pause":
            self.monitor.pause()
            if self.markers is not None:
                self.markers.paused = True
        elif action == "resume":
            self.monitor.resume()
            if self.markers is not None:
                self.markers.paused = False


def load_ipython_extension(ipython: InteractiveShell) -> None:
    ipython.register_magics(LabdeckMagics)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    magics = ipython.magics_manager.registry.get("LabdeckMagics")
    if isinstance(magics, LabdeckMagics):
        magics._stop()
