"""Property-based fuzzing of the REST API against its own served contract.

Schemathesis loads the OpenAPI document that a real `jupyter server` (started
as a subprocess, with the labdeck extension) serves at
`/labdeck/api/openapi.json`, and sends every operation a bounded number of
generated requests as a team admin of a seeded world (`build_world`: team
`acme`, project `acme/p`, an artifact, a registered model; plus a run, a
report, an invitation, a service account). Path parameters are steered
towards the names and ids of that world about half of the time, so many
requests reach the services instead of stopping at a 404. Deletes run last.

Every answer must be no 5xx, match the response schema the document declares
for its status code, and carry the declared content type. Status codes the
document does not list are not judged here (tornado's own 405 for a method a
path does not have, for instance).

SQLite only: the server and the seeding share one SQLite file. The run is
derandomized with a fixed seed (`SEED`), and bounded by `POSITIVE_EXAMPLES`
and `NEGATIVE_EXAMPLES` cases per operation (the environment variables
LABDECK_FUZZ_POSITIVE / LABDECK_FUZZ_NEGATIVE raise them for a deeper local run;
LABDECK_FUZZ_VERBOSE=1 prints the statuses per operation).

The tests at the end pin, on both engines, the inputs that the fuzzing and
the probes around it found answering 500 (NUL, lone surrogates, non-ASCII
digits, naive times in cursors, JSON nested past the parser's limit).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from permission_world import PROJECT, TEAM, build_world
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from labdeck.backend.config import Settings
from labdeck.backend.context import Backend
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

# Cases per operation, per generation mode. About 100 operations: about 600
# requests in all, under half a minute on two cores.
POSITIVE_EXAMPLES = int(os.environ.get("LABDECK_FUZZ_POSITIVE", "4"))
NEGATIVE_EXAMPLES = int(os.environ.get("LABDECK_FUZZ_NEGATIVE", "2"))
MODES = (
    (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
    (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
TOKEN = "fuzz-token"
SEED = 20_261_127

# What the run did; `_Summary` prints it in the closing summary.
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


def _order(operation: Any) -> tuple[bool, bool, str]:
    """Reads and writes first, deletes last; the project and my account at the
    very end, so that few cases find the world already gone."""
    path = operation.path
    last = path.endswith("/projects/{entity}/{project}") or path.endswith("/me")
    return (operation.method.upper() == "DELETE", last, operation.label)


@dataclass
class Tally:
    """What the run sent and got back: operation label -> status -> cases."""

    seen: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, label: str, status: int) -> None:
        by_status = self.seen.setdefault(label, {})
        by_status[status] = by_status.get(status, 0) + 1

    @property
    def total(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.seen.values())

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for by_status in self.seen.values():
            for status, n in by_status.items():
                out[status] = out.get(status, 0) + n
        return dict(sorted(out.items()))


def _fuzz(
    operation: Any,
    mode: str,  # a GenerationMode (a StrEnum)
    examples: int,
    server: FuzzServer,
    session: requests.Session,
    tally: Tally,
) -> None:
    """Up to `examples` generated cases of one operation; raises on the first
    failing check (after Hypothesis has looked for a simpler case)."""
    headers = {"Authorization": f"Bearer {server.key}"}

    @hypothesis_settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=server.base_url, headers=headers, session=session, timeout=30)
        tally.add(operation.label, response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


class _Summary:
    """Says in the closing summary what the fuzzing did, with or without `-s`."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if FUZZ_STATS:
            terminalreporter.write_line(
                f"schemathesis: {FUZZ_STATS['cases']} cases over {FUZZ_STATS['operations']} "
                f"operations in {FUZZ_STATS['seconds']} s; statuses {FUZZ_STATS['statuses']}"
            )


def test_fuzz_served_schema(fuzz_server: FuzzServer, request: pytest.FixtureRequest) -> None:
    plugins = request.config.pluginmanager
    if plugins.get_plugin(_Summary.__name__) is None:
        plugins.register(_Summary(), _Summary.__name__)
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}{API_PREFIX}/openapi.json")
    known = fuzz_server.known

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        # A value of the seeded world or the generated one, about half and half.
        if not path_parameters:
            return st.just(path_parameters)
        steered = {
            name: st.one_of(st.sampled_from(known[name]), st.just(value))
            if name in known
            else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(steered)

    results = list(schema.get_all_operations())
    broken = [result.err() for result in results if not isinstance(result, Ok)]
    assert not broken, broken
    operations = sorted((result.ok() for result in results if isinstance(result, Ok)), key=_order)
    session = requests.Session()
    tally = Tally()
    failures: list[str] = []
    for operation in operations:
        for mode, examples in MODES:
            try:
                _fuzz(operation, mode, examples, fuzz_server, session, tally)
            except (Exception, FailureGroup) as exc:  # every operation's failure, not the first
                failures.append(f"{operation.label} [{mode}]: {exc}")

    elapsed = time.monotonic() - started
    FUZZ_STATS.update(
        cases=tally.total,
        operations=len(operations),
        seconds=round(elapsed, 1),
        statuses=tally.statuses(),
        by_operation=tally.seen,
    )
    print(
        f"\nschemathesis: {tally.total} cases over {len(operations)} operations "
        f"in {elapsed:.1f} s; statuses {tally.statuses()}"
    )
    if os.environ.get("LABDECK_FUZZ_VERBOSE"):
        for label, by_status in tally.seen.items():
            print(f"  {label}: {dict(sorted(by_status.items()))}")
    assert not failures, "\n\n".join(failures)
    assert len(operations) >= 90 and tally.total >= 400
    untouched = [op.label for op in operations if op.label not in tally.seen]
    assert not untouched, f"operations never called: {untouched}"
    # The steering reaches the services: most operations answer a 2xx at least once.
    succeeded = [label for label, by in tally.seen.items() if any(200 <= c < 300 for c in by)]
    assert len(succeeded) >= len(operations) // 2, succeeded


# --- What the fuzzing (and probes around it, on both engines) found answering 500.
# Each answered 500 before its fix; each must answer a 4xx, on SQLite and on
# PostgreSQL. These run on the in-process server of `api_as`.


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _multipart(meta: bytes) -> tuple[bytes, dict[str, str]]:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="meta"\r\n\r\n'
        + meta
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        + b"abc\r\n--b--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=b"}


DEEP = b"[" * 5000 + b"]" * 5000  # deeper than Python's recursion limit


async def test_edge_inputs_fixed(api_as: Any, backend: Backend) -> None:
    world = build_world(backend)
    api = api_as(world.ta)
    runs_path = f"/projects/{TEAM}/{PROJECT}/runs"
    # team_settings: a report id past any integer column overflowed the driver.
    code, err = await api("PATCH", f"/teams/{TEAM}/profile", {"showcased_reports": [10**23]})
    assert (code, err["field"]) == (422, "showcased_reports")
    # runs: a cursor with a naive time, or a run id the database cannot take.
    for cursor in (
        ["2026-01-01T00:00:00", "x"],
        ["2026-01-01", 5],
        ["2026-01-01T00:00:00+00:00", "\x00"],
        ["2026-01-01T00:00:00+00:00", "\ud800"],
    ):
        code, err = await api("GET", runs_path, params={"cursor": _cursor(cursor)})
        assert (code, err["field"]) == (422, "cursor"), cursor
    # members: a cursor (a user name) with a NUL or a lone surrogate.
    for name in ("\x00", "\ud800"):
        code, err = await api("GET", f"/teams/{TEAM}/members", params={"cursor": _cursor(name)})
        assert (code, err["field"]) == (422, "cursor"), name
    # routes/artifacts: a meta part nested deeper than the JSON parser goes.
    body, headers = _multipart(b'{"name": "x", "type": "t", "metadata": ' + DEEP + b"}")
    code, err = await api(
        "POST", f"/projects/{TEAM}/{PROJECT}/artifacts", raw=body, headers=headers
    )
    assert (code, err["field"]) == (422, "meta")


# Found as well, fixed in the shared request parsing and validation.


async def test_bad_ids_and_deep_bodies_are_4xx(api_as: Any, backend: Backend) -> None:
    world = build_world(backend)
    api = api_as(world.ta)
    for path in ("/artifacts/¹", "/reports/¹", f"/registry/{world.model_id}¹"):
        code, err = await api("GET", path)
        assert (code, err["error"]) == (422, "invalid"), path
    code, err = await api(
        "POST", f"/projects/{TEAM}/{PROJECT}/runs", raw=b'{"config": ' + DEEP + b"}"
    )
    assert (code, err["error"]) == (400, "malformed")


async def test_deep_cursor_is_422(api_as: Any, backend: Backend) -> None:
    world = build_world(backend)
    api = api_as(world.ta)
    cursor = base64.urlsafe_b64encode(DEEP).decode()
    for path in (f"/teams/{TEAM}/members", f"/projects/{TEAM}/{PROJECT}/reports"):
        code, err = await api("GET", path, params={"cursor": cursor})
        assert (code, err["field"]) == (422, "cursor"), path


async def test_nul_in_path_or_query_is_422(api_as: Any, backend: Backend) -> None:
    world = build_world(backend)
    api = api_as(world.ta)
    run_id = runs.create_run(backend, world.ta, TEAM, PROJECT)["id"]
    for path, params in (
        ("/teams/\x00", {}),
        ("/projects/\x00", {}),
        (f"/projects/{TEAM}/\x00/runs", {}),
        ("/runs/\x00", {}),
        (f"/artifacts/{world.artifact_id}/files/\x00", {}),
        (f"/runs/{run_id}/metrics", {"keys": "\x00"}),
    ):
        code, err = await api("GET", path, params=params)
        assert (code, err["error"]) == (422, "invalid"), (path, params)


async def test_nul_or_lone_surrogate_in_json_objects_is_422(api_as: Any, backend: Backend) -> None:
    world = build_world(backend)
    api = api_as(world.ta)
    run_id = runs.create_run(backend, world.ta, TEAM, PROJECT)["id"]
    for bad in (b'{"a": "x\\u0000y"}', b'{"\\u0000": 1}', b'{"a": ["\\ud800"]}'):
        for method, path, body in (
            ("PATCH", f"/artifacts/{world.artifact_id}", b'{"metadata": ' + bad + b"}"),
            ("PATCH", f"/runs/{run_id}", b'{"config": ' + bad + b"}"),
            ("POST", f"/projects/{TEAM}/{PROJECT}/runs", b'{"system": ' + bad + b"}"),
        ):
            code, err = await api(method, path, raw=body)
            assert (code, err["error"]) == (422, "invalid"), (method, path, body)
