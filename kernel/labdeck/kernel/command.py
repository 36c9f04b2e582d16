"""`labdeck monitor -- COMMAND ARGS...` (F-UI-7): a command as a monitored run
of its own process tree, ending `finished` on exit status 0, else `crashed`."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

from labdeck.backend.context import Backend

from .session import Monitor


def run_monitored(
    command: list[str],
    *,
    project: str | None = None,
    interval: float | None = None,
    database_url: str | None = None,
) -> int:
    backend = Backend.open(database_url)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"labdeck monitor: cannot run {command[0]!r}: {exc}", file=sys.stderr)
        return 127
    monitor = Monitor(
        project,
        interval=interval,
        pid=child.pid,
        backend=backend,
        config={"command": command},
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run = monitor.start()
        print(f"labdeck: run {run.id} in {run.project}", file=sys.stderr)
        status = child.wait()
    except BaseException:
        child.kill()
        child.wait()
        monitor.stop("crashed")
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    monitor.stop("finished" if status == 0 else "crashed")
    # A child killed by a signal reports -N; a shell would say 128+N.
    return status if status >= 0 else 128 - status
