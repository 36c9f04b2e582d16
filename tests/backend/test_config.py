"""The settings declarations (`labdeck.backend.config`) and their one reader:
the generated docs table, parsing from the environment, precedence and
where each value came from, and the `labdeck` command as an operator runs
it (`labdeck config`, and the Jupyter config files it shares with the
server)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labdeck.backend import config, configdocs
from labdeck.backend.config import SPECS, Given, Origin, SettingError, Settings, Source, read
from labdeck.backend.context import Backend
from labdeck.backend.models import Run
from labdeck.backend.services import identity, runs

ROOT = Path(__file__).parent.parent.parent


def test_docs_are_generated_from_the_declarations() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == configdocs.render(), (
        "docs/configuration.md is stale: run "
        "python -m labdeck.backend.configdocs > docs/configuration.md"
    )


def test_every_setting_is_in_the_docs_table_once() -> None:
    rows = [line for line in configdocs.render().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(SPECS)
    for spec in SPECS.values():
        assert spec.help and spec.parts, spec.name
        assert sum(f"`{spec.env}`" in row for row in rows) == 1, spec.env


def test_nothing_set_reads_the_defaults() -> None:
    effective = read(environ={})
    assert effective.settings == Settings()
    assert {origin.source for origin in effective.origins.values()} == {Source.DEFAULT}


def test_the_environment_is_parsed_by_type() -> None:
    environ = {
        "LABDECK_ADMIN_USERS": " Alice, bob ,,",
        "LABDECK_USER_QUOTA_BYTES": "1000",
        "LABDECK_DB_NULLPOOL": "yes",
        "LABDECK_EMAIL_TOKEN_TTL": "90",
        "LABDECK_SAMPLE_INTERVAL": "0.5",
        "LABDECK_DISK_PATHS": os.pathsep.join(["/", "/data", ""]),
        "LABDECK_OPENMETRICS_ENDPOINTS": '{"vllm": "http://127.0.0.1:8000/metrics"}',
        "LABDECK_OPENMETRICS_FILTERS": '["^vllm:", "a,b"]',
        "LABDECK_USERNAME": "kim",
        "LABDECK_STORAGE_URL": "",
    }
    effective = read(environ=environ)
    s = effective.settings
    assert s.admin_users == frozenset({"alice", "bob"})
    assert s.user_quota_bytes == 1000 and s.db_nullpool is True
    assert s.email_token_ttl == dt.timedelta(seconds=90) and s.sample_interval == 0.5
    assert s.disk_paths == ("/", "/data")
    assert s.openmetrics_endpoints == {"vllm": "http://127.0.0.1:8000/metrics"}
    assert s.openmetrics_filters == ("^vllm:", "a,b")
    assert s.attribute_to_user == "kim"
    assert effective.origins["attribute_to_user"] == Origin(Source.ENVIRONMENT, "LABDECK_USERNAME")
    # An empty variable is unset.
    assert effective.origins["storage_url"].source is Source.DEFAULT
    assert s.storage_url == Settings().storage_url


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LABDECK_USER_QUOTA_BYTES", "100GB"),
        ("LABDECK_DB_NULLPOOL", "maybe"),
        ("LABDECK_FLUSH_INTERVAL", "fast"),
        ("LABDECK_OPENMETRICS_ENDPOINTS", "[1, 2]"),
        ("LABDECK_OPENMETRICS_FILTERS", "not json"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingError, match=variable):
        read(environ={variable: value})


def test_precedence_default_env_config_command_line() -> None:
    environ = {"LABDECK_STORAGE_URL": "file:///env", "LABDECK_PUBLIC_URL": "http://env/"}
    in_file = Origin(Source.CONFIG_FILE, "/etc/jupyter/jupyter_server_config.py")
    on_line = Origin(Source.COMMAND_LINE, "--database-url")
    given = {
        "public_url": Given("http://file/", in_file),
        "database_url": Given("sqlite:////tmp/cli.db", on_line),
    }
    effective = read(given, environ=environ)
    assert effective.settings.storage_url == "file:///env"
    assert effective.settings.public_url == "http://file/"
    assert effective.settings.database_url == "sqlite:////tmp/cli.db"
    assert str(effective.origins["storage_url"]) == "environment variable LABDECK_STORAGE_URL"
    assert effective.origins["public_url"] == in_file
    assert effective.origins["database_url"] == on_line
    assert effective.origins["reaper_interval"].source is Source.DEFAULT


def test_a_config_file_value_of_the_wrong_type_is_refused() -> None:
    origin = Origin(Source.CONFIG_FILE, "/x/jupyter_server_config.py")
    with pytest.raises(SettingError, match="jupyter_server_config.py"):
        read({"user_quota_bytes": Given("lots", origin)}, environ={})


def test_the_old_base_url_variable_is_read_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="LABDECK_BASE_URL is deprecated"):
        effective = read(environ={"LABDECK_BASE_URL": "http://old/"})
    assert effective.settings.public_url == "http://old/"
    assert str(effective.origins["public_url"]) == (
        "environment variable LABDECK_BASE_URL (deprecated)"
    )
    both = {"LABDECK_BASE_URL": "http://old/", "LABDECK_PUBLIC_URL": "http://new/"}
    assert read(environ=both).settings.public_url == "http://new/"


def test_heartbeat_staleness_follows_the_flush_interval_unless_set() -> None:
    assert read(environ={}).settings.heartbeat_staleness == 30.0
    assert read(environ={"LABDECK_FLUSH_INTERVAL": "20"}).settings.heartbeat_staleness == 60.0
    environ = {"LABDECK_FLUSH_INTERVAL": "20", "LABDECK_HEARTBEAT_STALENESS": "5"}
    assert read(environ=environ).settings.heartbeat_staleness == 5.0


def test_secrets_and_url_passwords_are_masked() -> None:
    assert SPECS["api_key"].show("ldk_secret") == "********"
    assert SPECS["api_key"].show("") == ""
    assert SPECS["github_client_secret"].show("s3cr3t") == "********"
    shown = SPECS["database_url"].show("postgresql+psycopg://kim:pw@db.example.org/labdeck")
    assert shown == "postgresql+psycopg://kim:***@db.example.org/labdeck"
    assert SPECS["storage_url"].show("s3://bucket/prefix") == "s3://bucket/prefix"


def test_config_files_are_read_in_the_servers_order(tmp_path: Path) -> None:
    high, low = tmp_path / "high", tmp_path / "low"
    high.mkdir()
    low.mkdir()
    (low / "jupyter_server_config.py").write_text(
        "c.LabdeckApp.public_url = 'http://low/'\nc.LabdeckApp.reaper_interval = 3.0\n"
    )
    (high / "jupyter_server_config.json").write_text(
        '{"LabdeckApp": {"public_url": "http://high/", "open_browser": false}}'
    )
    (high / "jupyter_labdeck_config.py").write_text("c.LabdeckApp.reaper_interval = 9.0\n")
    (high / "jupyter_config.py").write_text("raise RuntimeError('broken file')\n")
    errors: list[str] = []
    found = config.from_config_files(
        [str(high), str(low)], on_error=lambda path, exc: errors.append(path)
    )
    assert found["public_url"].value == "http://high/"
    assert found["public_url"].origin.where == str(high / "jupyter_server_config.json")
    # jupyter_server_config is applied after the extension's own file.
    assert found["reaper_interval"].value == 3.0
    assert "open_browser" not in found  # an ExtensionApp trait, not a labdeck setting
    assert errors == [str(high / "jupyter_config.py")]


def _cli_env(config_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `labdeck` command whose Jupyter config directory
    is `config_dir` and whose only labdeck variables are `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LABDECK_", "JUPYTER_"))
    }
    env.update(JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_PLATFORM_DIRS="1", **extra)
    return env


def test_labdeck_config_prints_each_value_and_where_it_came_from(tmp_path: Path) -> None:
    """The installed command, as an operator runs it: one setting from each
    source, secrets masked."""
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text(
        "c.LabdeckApp.storage_url = 'file:///srv/labdeck'\n"
        "c.LabdeckApp.github_client_secret = 'from-the-file'\n"
    )
    env = _cli_env(config_dir, LABDECK_FLUSH_INTERVAL="2.5", LABDECK_API_KEY="ldk_do_not_print")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    command = [sys.executable, "-m", "labdeck.cli", "--database-url", db, "config"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in done.stdout.splitlines()[1:]}
    assert list(rows) == list(SPECS)
    assert rows["database_url"] == [db, "command line --database-url"]
    assert rows["storage_url"] == [
        "file:///srv/labdeck",
        f"config file {config_dir / 'jupyter_server_config.py'}",
    ]
    assert rows["flush_interval"] == ["2.5", "environment variable LABDECK_FLUSH_INTERVAL"]
    assert rows["heartbeat_staleness"] == ["30.0", "default"]
    assert rows["reaper_interval"] == ["15.0", "default"]
    assert rows["api_key"] == ["********", "environment variable LABDECK_API_KEY"]
    assert rows["github_client_secret"][0] == "********"
    assert "ldk_do_not_print" not in done.stdout and "from-the-file" not in done.stdout


def test_a_declared_choice_or_cleaning_refuses_other_values() -> None:
    """What a text setting with `choices` (or a `clean` that raises) answers."""
    declared = config.setting(
        "starttls", help="How to talk to the server.", choices=("starttls", "ssl", "none")
    )
    spec = config.Spec("mode", config.Kind.TEXT, declared.metadata["labdeck"], declared)
    assert spec.parse("ssl", "LABDECK_MODE") == "ssl"
    with pytest.raises(SettingError, match="LABDECK_MODE: 'tls' is not one of starttls, ssl"):
        spec.parse("tls", "LABDECK_MODE")

    def port(value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("a port is between 1 and 65535")
        return value

    declared = config.setting(25, help="A port.", clean=port)
    spec = config.Spec("port", config.Kind.INTEGER, declared.metadata["labdeck"], declared)
    with pytest.raises(SettingError, match="LABDECK_PORT: a port is between 1 and 65535"):
        spec.parse("70000", "LABDECK_PORT")


def test_labdeck_monitor_runs_with_the_servers_config_file(tmp_path: Path) -> None:
    """The CLI reads the Jupyter config files as the server does: a monitored
    command records into the database, and at the cadence, configured there."""
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    (config_dir / "jupyter_server_config.py").write_text(
        f"c.LabdeckApp.database_url = {url!r}\nc.LabdeckApp.sample_interval = 0.25\n"
    )
    env = _cli_env(
        config_dir,
        JUPYTERHUB_USER="kim",  # grants nothing: the CLI acts as its OS account
        LABDECK_STORAGE_URL=(tmp_path / "storage").as_uri(),
    )
    sleep = [sys.executable, "-c", "import time; time.sleep(1)"]
    command = [sys.executable, "-m", "labdeck.cli", "monitor", "--project", "cli", "--", *sleep]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    backend = Backend.open(url)
    owner = identity.server_owner()
    (run,) = runs.list_runs(backend, identity.actor_for(backend, owner), owner, "cli")["items"]
    assert run["state"] == "finished"
    with backend.db.reader() as session:
        assert session.get(Run, run["id"]).system["interval"] == 0.25
    backend.db.dispose()
