"""A real JupyterLab (with the labdeck server extension) on a free port with
a token, driven by Playwright in Debian's chromium."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
CHROMIUM = next(
    (p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("lab")
    work = base / "work"
    shutil.copytree(ROOT / "notebooks", work)
    settings = base / "settings"
    # Setting defaults for this lab: JupyterLab reads them from the labconfig
    # folder of the Jupyter config dir (`default_setting_overrides`).
    labconfig = base / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "default_setting_overrides.json").write_text(
        json.dumps(
            {
                "@jupyterlab/apputils-extension:notification": {
                    "fetchNews": "false",
                    "checkForUpdates": False,
                },
                # The panel's own preference: live figures every second.
                "labdeck:plugin": {"refreshInterval": 1},
            }
        )
    )
    port, token = _free_port(), "labdeck-browser-test"
    database_url = f"sqlite:///{base / 'labdeck.db'}"
    env = {
        **os.environ,
        "LABDECK_DATABASE_URL": database_url,
        "LABDECK_STORAGE_URL": (base / "storage").as_uri(),
        "LABDECK_FLUSH_INTERVAL": "0.5",
        "LABDECK_SAMPLE_INTERVAL": "1",
        "JUPYTERHUB_USER": "browser",
        "JUPYTERLAB_SETTINGS_DIR": str(settings / "user"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
    }
    log = open(base / "lab.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
            f"--LabApp.user_settings_dir={settings / 'user'}",
            f"--ServerApp.root_dir={work}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("JupyterLab did not start: " + (base / "lab.log").read_text()[-2000:])
    (ROOT / "tests" / "screenshots").mkdir(parents=True, exist_ok=True)
    yield {
        "url": url,
        "token": token,
        "log": str(base / "lab.log"),
        "database_url": database_url,
        "root": str(work),
    }
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """pytest-jupyter closes "the" event loop after every test; here Playwright's
    sync API owns the running one, so hand pytest-jupyter a loop of its own."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
