"""A real kernel that is monitoring is killed with SIGKILL: what it flushed
is kept, and the server's reaper turns the run `crashed`."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time

from jupyter_client.manager import start_new_kernel

from labdeck.backend.context import Backend
from labdeck.backend.models import utcnow
from labdeck.backend.services import identity, metrics, runs

# The kernel's user: the OS account it runs as (F-ID-1), whatever the
# environment says.
OWNER = identity.server_owner()


def test_sigkilled_kernel_keeps_flushed_samples_and_is_reaped(kernel_db, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        reply = kc.execute_interactive(
            "%load_ext labdeck\n%labdeck start --project killed --interval 0.1 --no-chart",
            timeout=60,
        )
        assert reply["content"]["status"] == "ok"
        kc.execute_interactive("import time; time.sleep(1.5)", timeout=30)
        pid = km.provisioner.process.pid
        os.kill(pid, signal.SIGKILL)
        km.provisioner.process.wait(timeout=10)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    backend = Backend.open(kernel_db)
    kim = identity.actor_for(backend, OWNER)
    (run,) = runs.list_runs(backend, kim, OWNER, "killed")["items"]
    assert run["state"] == "running"
    history = metrics.read_series(backend, kim, run["id"], keys=["proc.memory.rssMB"])
    flushed = len(history["series"]["proc.memory.rssMB"]["t"])
    assert flushed >= 5, "samples flushed every 0.2 s before the kill are all there"

    # The reaper: a heartbeat older than the staleness marks the run crashed, once.
    time.sleep(0.1)
    cutoff = utcnow() + dt.timedelta(seconds=1)
    assert runs.reap_stale_runs(backend, cutoff) == [run["id"]]
    assert runs.reap_stale_runs(backend, cutoff) == []
    assert runs.get_run(backend, kim, run["id"])["state"] == "crashed"
