"""The `%labdeck` magic (F-UI-1): `%load_ext labdeck`, then

    %labdeck start [--project P] [--interval S] [--disk PATH ...] [--no-chart]
    %labdeck stop | status | pause | resume
    %%labdeck [--project P] [--interval S] [--disk PATH ...] [--no-chart]   (one cell)

While a monitor started here runs, every executed cell is recorded as a marker.
"""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .charting import attach_chart
from .markers import CellMarkers
from .session import Monitor

ACTIONS = ("start", "stop", "status", "pause", "resume")


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
    if status.get("paused"):
        lines.append("  paused")
    print("\n".join(lines))


@magics_class
class LabdeckMagics(Magics):
    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.monitor: Monitor | None = None
        self.markers: CellMarkers | None = None

    def _start(self, args: Any) -> Monitor:
        if self.monitor is not None and self.monitor.state == "running":
            raise RuntimeError(
                f"a monitor is already running (run {self.monitor.run_id}); %labdeck stop first"
            )
        monitor = Monitor(args.project, interval=args.interval, disk=args.disk or None)
        if not args.no_chart:
            attach_chart(monitor)
        monitor.start()
        self.monitor = monitor
        assert self.shell is not None
        self.markers = CellMarkers(self.shell, monitor)
        self.markers.register()
        return monitor

    def _stop(self, state: str = "finished") -> None:
        # Markers first: the closing cell's marker must be written while the
        # run still accepts them.
        if self.markers is not None:
            self.markers.unregister()
            self.markers = None
        if self.monitor is not None:
            self.monitor.stop(state)

    @magic_arguments()
    @argument("action", nargs="?", choices=ACTIONS, help="what to do (line magic only)")
    @argument("--project", default=None, help="NAME (your own) or ENTITY/NAME (a team's)")
    @argument("--interval", type=float, default=None, help="seconds between samples (>= 0.1)")
    @argument("--disk", nargs="+", default=None, metavar="PATH", help="disk paths to watch")
    @argument("--no-chart", action="store_true", help="do not show the live chart")
    @line_cell_magic
    def labdeck(self, line: str, cell: str | None = None) -> None:
        """Monitor hardware use of this kernel as a labdeck run."""
        args = parse_argstring(self.labdeck, line)
        if cell is not None:
            if args.action is not None:
                raise ValueError("%%labdeck takes options only: %%labdeck [--project P] ...")
            self._start(args)
            assert self.shell is not None
            failed = True
            try:
                result = self.shell.run_cell(cell)
                failed = not result.success
            finally:
                self._stop("crashed" if failed else "finished")
            return
        action = args.action or "status"
        if action == "start":
            monitor = self._start(args)
            print(f"labdeck: monitoring as run {monitor.run_id} in {monitor.status()['project']}")
        elif self.monitor is None:
            print("labdeck: no monitor in this kernel; %labdeck start begins one")
        elif action == "stop":
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
