"""Property-based fuzzing of the REST API against its own served contract.

Schemathesis loads the OpenAPI document that a real `jupyter server` (started
as a subprocess, with the labdeck extension) serves at
`/labdeck/api/openapi.json`, and sends every operation a bounded number of
generated requests as a team admin of a seeded world (`build_world`: team
`acme`, project `acme/p`, an artifact, a registered model; plus a run, a
report, an invitation, a service account). Path parameters are steered
towards the names and ids of that world most of the time, so most requests
reach the services instead of stopping at a 404.

Every answer must be no 5xx, match the response schema the document declares
for its status code, and carry the declared content type. Status codes the
document does not list are not judged here (tornado's own 405 for a method a
path does not have, for instance).

SQLite only: the server and the seeding share one SQLite file. The run is
derandomized (Hypothesis derives each operation's seed from the test), and
bounded by `POSITIVE_EXAMPLES` and `NEGATIVE_EXAMPLES` per operation.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from labdeck.backend.context import Backend, Settings
from labdeck.backend.db import Database
from labdeck.backend.services import (
    apikeys,
    emails,
    invitations,
    reports,
    runs,
    service_accounts,
)
from labdeck.extension.handlers import API_PREFIX
from permission_world import PROJECT, TEAM, build_world

# Cases per operation, per generation mode. About 80 operations: a few hundred
# requests in all, well under a minute on two cores.
POSITIVE_EXAMPLES = int(os.environ.get("LABDECK_FUZZ_POSITIVE", "4"))
NEGATIVE_EXAMPLES = int(os.environ.get("LABDECK_FUZZ_NEGATIVE", "2"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
TOKEN = "fuzz-token"

# What the run did, for a closing summary (see the report of this test's issue).
FUZZ_STATS: dict[str, Any] = {}


@dataclass
class FuzzServer:
    base_url: str  # http://127.0.0.1:<port>
    key: str  # API key of the team admin `ta`
    known: dict[str, list[Any]]  # path parameter name -> values that exist


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _seed(url: str, storage_url: str) -> tuple[str, dict[str, list[Any]]]:
    backend = Backend(Database(url), Settings(storage_url=storage_url))
    try:
        world = build_world(backend)
        ta = world.ta
        key = apikeys.create_key(backend, ta, "fuzz")["secret"]
        # A second key of ta's: the only key id steered into DELETE /me/api-keys.
        spare = apikeys.create_key(backend, ta, "spare")["id"]
        run = runs.create_run(backend, ta, TEAM, PROJECT, name="r1", config={"lr": 0.1})
        report = reports.create_report(backend, ta, TEAM, PROJECT, "notes", "# hello")
        invitation = invitations.invite(backend, ta, TEAM, "new@example.org", "member")
        service_accounts.create_service_account(backend, ta, TEAM, "bot")
        email_id = emails.list_emails(backend, ta)[0]["id"]
        extra = emails.add_email(backend, ta, "ta2@example.org")["id"]
    finally:
        backend.db.dispose()
    known: dict[str, list[Any]] = {
        "team": [TEAM],
        "entity": [TEAM, "ta"],
        "project": [PROJECT],
        "org": ["acmeorg"],
        "username": ["ta", "mem", "mem2", "va", "ra"],
        "run_id": [run["id"]],
        "id": [world.artifact_id, report["id"], invitation["id"]],
        "model_id": [world.model_id],
        "alias": ["latest", "prod", "v1"],
        "path": ["w.bin"],
        "email_id": [email_id, extra],
        "key_id": [spare],
        "name": ["bot", TEAM, "ta"],
        "kind": ["team", "user"],
    }
    return key, known


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[FuzzServer]:
    root = tmp_path_factory.mktemp("fuzz")
    db_path = root / "labdeck.db"
    shutil.copy(sqlite_template, db_path)
    url = f"sqlite:///{db_path}"
    storage = root / "storage"
    storage.mkdir()
    key, known = _seed(url, storage.as_uri())

    port = _free_port()
    env = {
        **os.environ,
        "LABDECK_DATABASE_URL": url,
        "LABDECK_STORAGE_URL": storage.as_uri(),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
    }
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={TOKEN}",
            '--ServerApp.jpserver_extensions={"labdeck": True}',
            f"--LabdeckApp.database_url={url}",
            f"--LabdeckApp.storage_url={storage.as_uri()}",
            "--LabdeckApp.reaper_interval=0",
            # Nothing leaves the machine, should a callback ever get that far.
            "--LabdeckApp.github_token_url=http://127.0.0.1:9/",
            "--LabdeckApp.github_user_url=http://127.0.0.1:9/",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter server exited:\n{(root / 'server.log').read_text()[-4000:]}")
            try:
                if requests.get(f"{base_url}{API_PREFIX}/openapi.json", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no server after 60 s:\n{(root / 'server.log').read_text()[-4000:]}")
            time.sleep(0.2)
        yield FuzzServer(base_url, key, known)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _order(operation: Any) -> tuple[int, int, str]:
    """Reads and writes first, deletes last; the project and my account at the
    very end, so that few cases find the world already gone."""
    path = operation.path
    last = path.endswith("/projects/{entity}/{project}") or path.endswith("/me")
    return (operation.method.upper() == "DELETE", last, operation.label)


def test_fuzz_served_schema(fuzz_server: FuzzServer) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}{API_PREFIX}/openapi.json")
    known = fuzz_server.known

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        # A known value most of the time, the generated one otherwise.
        if not path_parameters:
            return st.just(path_parameters)
        steered = {
            name: st.one_of(st.sampled_from(known[name]), st.just(value))
            if name in known
            else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(steered)

    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=_order,
    )
    headers = {"Authorization": f"Bearer {fuzz_server.key}"}
    session = requests.Session()
    counts: dict[str, int] = {}
    statuses: dict[int, int] = {}
    failures: list[str] = []
    per_op: dict[str, dict[int, int]] = {}

    for operation in operations:
        for mode, examples in (
            (schemathesis.GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            (schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):

            @hypothesis_settings(
                max_examples=examples,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                response = case.call(
                    base_url=fuzz_server.base_url, headers=headers, session=session, timeout=30
                )
                counts[operation.label] = counts.get(operation.label, 0) + 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                per_op.setdefault(operation.label, {}).setdefault(response.status_code, 0)
                per_op[operation.label][response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                run()
            except (Exception, FailureGroup) as exc:  # every operation's failure, not the first
                failures.append(f"{operation.label} [{mode.value}]: {exc}")

    total = sum(counts.values())
    elapsed = time.monotonic() - started
    FUZZ_STATS.update(
        cases=total, operations=len(operations), seconds=round(elapsed, 1), statuses=statuses
    )
    print(
        f"\nschemathesis: {total} cases over {len(operations)} operations in {elapsed:.1f} s; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    if os.environ.get("LABDECK_FUZZ_VERBOSE"):
        for label, seen in per_op.items():
            print(label, dict(sorted(seen.items())))
    assert not failures, "\n\n".join(failures)
    assert len(operations) >= 70 and total >= 300
    untouched = [op.label for op in operations if not counts.get(op.label)]
    assert not untouched, f"operations never called: {untouched}"
