"""A monitor started in a real Jupyter kernel records that kernel's id with
its run, which is how JupyterLab's status bar finds the run of the current
notebook (`GET /me/kernels/{kernel_id}/run`, F-UI-8)."""

from __future__ import annotations

import os
import sys

from jupyter_client.multikernelmanager import MultiKernelManager

from labdeck.backend.context import Backend
from labdeck.backend.services import identity, kernel_runs, runs
from labdeck.kernel.session import jupyter_kernel_id


def test_a_kernels_run_carries_its_kernel_id(kernel_db, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # As the Jupyter server starts kernels: a kernel id, `kernel-<id>.json`.
    kernels = MultiKernelManager()
    kernel_id = kernels.start_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    km = kernels.get_kernel(kernel_id)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(
            "%load_ext labdeck\n%labdeck start --project in-lab --interval 0.2 --no-chart",
            timeout=60,
        )
        assert reply["content"]["status"] == "ok"
        backend = Backend.open(kernel_db)
        # The kernel acts as the server owner (its OS account), whatever
        # JUPYTERHUB_USER the fixture declares.
        owner_name = identity.server_owner()
        owner = identity.actor_for(backend, owner_name)
        (run,) = runs.list_runs(backend, owner, owner_name, "in-lab")["items"]
        assert run["system"][kernel_runs.KERNEL_ID_KEY] == kernel_id
        found = kernel_runs.kernel_run(backend, owner, kernel_id)
        assert found["run"]["id"] == run["id"]
        kc.execute_interactive("%labdeck stop", timeout=60)
        assert kernel_runs.kernel_run(backend, owner, kernel_id)["run"] is None
    finally:
        kc.stop_channels()
        kernels.shutdown_kernel(kernel_id, now=True)


def test_outside_a_kernel_there_is_no_kernel_id():
    """A script or `labdeck monitor` records no kernel id."""
    assert jupyter_kernel_id() is None
