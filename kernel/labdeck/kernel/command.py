"""`labdeck monitor -- COMMAND ARGS...` (F-UI-7): a command as a monitored run
of its own process tree, ending `finished` on exit status 0, else `crashed`.

Signals. The command runs in labdeck's process group, so a Ctrl-C at a
terminal reaches both at once: the terminal sends SIGINT to its whole
foreground group. Forwarding that SIGINT would make it two, and a script
that stops gracefully on the first Ctrl-C and hard on the second would be
killed hard. So a signal is forwarded only when the command would not get it
anyway: one sent by a process to labdeck alone (`kill PID`, a job runner's
SIGTERM; `si_code` SI_USER/SI_QUEUE/SI_TKILL), not one the kernel sent to the
group for a terminal (SI_KERNEL). The signals are blocked and taken with
`sigtimedwait`, which tells who sent them; a Python handler cannot. (A
process that signals the whole group, `kill -INT -PGID`, is not told apart
from one that signals labdeck alone: the command then gets it twice.)

The end. labdeck reaps the command itself, so what the command spent since
the last sample would be lost with it. labdeck waits for the exit without
reaping (`waitid(..., WNOWAIT)`), takes the closing sample while the command
is a zombie (its /proc stat holds its final CPU time and what it reaped),
then reaps it.

Where `sigtimedwait` or `waitid` are missing (macOS), a plain handler
forwards SIGTERM, and SIGINT only when labdeck is not in its terminal's
foreground group (the terminal reached the command already); the command
is reaped before the closing sample there.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from types import FrameType

from labdeck.backend.config import Settings
from labdeck.backend.context import Backend

from .session import Monitor

FORWARDED = (signal.SIGINT, signal.SIGTERM)
_SI_KERNEL = 0x80  # si_code of a signal the kernel sent: the terminal's Ctrl-C to the group
_POLL_S = 0.5
_PRECISE = all(hasattr(signal, n) for n in ("sigtimedwait", "pthread_sigmask")) and all(
    hasattr(os, n) for n in ("waitid", "WNOWAIT")
)


def sent_to_us_alone(info: signal.struct_siginfo) -> bool:
    """Whether a signal came from a process (kill, sigqueue), not from the terminal."""
    return info.si_code != _SI_KERNEL


def _exit_status(pid: int) -> int | None:
    """`pid`'s exit status (-N for signal N) once it exited, leaving it unreaped."""
    done = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
    if done is None or done.si_pid != pid:
        return None
    return done.si_status if done.si_code == os.CLD_EXITED else -done.si_status


def _wait_forwarding(child: subprocess.Popen[bytes]) -> int:
    """Wait for the child's exit (unreaped), forwarding what it would not get anyway."""
    while (status := _exit_status(child.pid)) is None:
        info = signal.sigtimedwait([*FORWARDED, signal.SIGCHLD], _POLL_S)
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        if sent_to_us_alone(info):
            child.send_signal(info.si_signo)
    return status


def _in_terminal_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _wait_portable(child: subprocess.Popen[bytes]) -> int:
    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum != signal.SIGINT or not _in_terminal_foreground():
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


INTERPRETERS = ("python", "bash", "sh", "zsh", "Rscript", "julia", "node", "perl", "ruby")


def script_of(command: list[str]) -> str | None:
    """The script file a command runs: the command itself when it is a file
    and no interpreter (`./train.sh`), else the interpreter's first argument
    that is no option (`python -u train.py`); None for `python -m`/`-c`."""
    if not os.path.basename(command[0]).startswith(INTERPRETERS):
        return command[0] if os.path.isfile(command[0]) else None
    for arg in command[1:]:
        if arg in ("-m", "-c", "-e"):
            return None
        if arg.startswith("-"):
            continue
        return arg if os.path.isfile(arg) else None
    return None


MAX_SCRIPT_BYTES = 1_000_000


def save_command_code(monitor: Monitor, command: list[str]) -> None:
    """The command line and its script (when there is one, up to 1 MB) as
    the run's code; a failure is reported, never fatal to the command."""
    try:
        monitor.client.save_code(monitor.run_id, "command", "command line", shlex.join(command))
        script = script_of(command)
        if script is not None:
            with open(script, "rb") as handle:
                data = handle.read(MAX_SCRIPT_BYTES + 1)
            if len(data) <= MAX_SCRIPT_BYTES:
                text = data.decode("utf-8", "replace")
                monitor.client.save_code(monitor.run_id, "script", os.path.abspath(script), text)
            else:
                print(f"labdeck: {script} is over 1 MB and was not saved", file=sys.stderr)
    except Exception as exc:
        print(f"labdeck: the run's code could not be saved: {exc}", file=sys.stderr)


def run_monitored(
    command: list[str],
    *,
    project: str | None = None,
    interval: float | None = None,
    settings: Settings | None = None,
    save_code: bool | None = None,
) -> int:
    """`settings`: the CLI's (Jupyter config files, environment, command
    line); without them, the environment's, as in a kernel. `save_code`:
    keep the command line and its script with the run (F-TS-4; None: the
    team's default)."""
    backend = Backend.open(settings=settings)
    # Blocked from before the command starts (a Ctrl-C that comes while the
    # run is being created waits for `sigtimedwait`), and in every thread:
    # the sampler's threads inherit the mask. The command gets the mask it
    # would have had (no thread runs yet here, so `preexec_fn` is safe).
    blocked = {*FORWARDED, signal.SIGCHLD} if _PRECISE else set()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if _PRECISE else set()

    def restore() -> None:
        if _PRECISE:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    launched = time.time()
    try:
        child = subprocess.Popen(command, preexec_fn=restore if _PRECISE else None)
    except OSError as exc:
        restore()
        print(f"labdeck monitor: cannot run {command[0]!r}: {exc}", file=sys.stderr)
        return 127
    try:
        monitor = Monitor(
            project,
            interval=interval,
            pid=child.pid,
            since=launched,  # the command is the run: all of it counts
            backend=backend,
            config={"command": command},
            save_code=save_code,
        )
    except BaseException:
        child.kill()
        child.wait()
        restore()
        raise
    try:
        run = monitor.start()
        print(f"labdeck: run {run.id} in {run.project}", file=sys.stderr)
        if monitor.saves_code:
            save_command_code(monitor, command)
        status = _wait_forwarding(child) if _PRECISE else _wait_portable(child)
        monitor.stop("finished" if status == 0 else "crashed")  # the closing sample: a zombie
        child.wait()
    except BaseException:
        child.kill()
        child.wait()
        monitor.stop("crashed")
        raise
    finally:
        # Drain what is still pending (the command has exited), then unblock.
        while _PRECISE and signal.sigtimedwait(list(FORWARDED), 0) is not None:
            pass
        restore()
    # A child killed by a signal reports -N; a shell would say 128+N.
    return status if status >= 0 else 128 - status
