"""The `labdeck` command line (F-UI-7).

It lives at the top of the namespace because it spans layers: the database
and account commands use `backend`, `labdeck monitor` uses `kernel` and
`labdeck serve` uses `extension`, each imported only when its command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labdeck.backend import config
from labdeck.backend.context import Backend
from labdeck.backend.errors import LabdeckError

DB_HELP = (
    f"database URL (default: c.{config.SECTION}.database_url in the Jupyter config, else "
    f"${config.SPECS['database_url'].env}, else a SQLite file in the Jupyter data dir)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labdeck",
        description="labdeck: team workspace and hardware monitoring for JupyterLab.",
    )
    parser.add_argument("--database-url", help=DB_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser(
        "config",
        help="print every setting's effective value and where it came from",
        description="Print every labdeck setting as this command sees it, with where its "
        "value came from: its default, its environment variable, a Jupyter config file "
        "(c.LabdeckApp.<name>, as the server reads them) or this command line. Secrets "
        "and passwords in URLs are masked. docs/configuration.md describes each setting.",
    )

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade", help="create the database or bring it to the latest schema (Alembic head)"
    )

    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_sub.add_parser(
        "create",
        help="create an account",
        description="Create an account. An email given here by the operator counts as "
        "verified and becomes the account's primary email.",
    )
    create.add_argument("name", help="user name (a-z, 0-9, '.', '-', '_')")
    create.add_argument("--admin", action="store_true", help="make it an admin account")
    create.add_argument("--email", help="primary email address, marked verified")

    key = sub.add_parser("key", help="manage API keys")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    key_create = key_sub.add_parser(
        "create",
        help="create an API key for a user and print it once",
        description="Create an API key for NAME. The secret is printed once and stored "
        "only as a hash: copy it now.",
    )
    key_create.add_argument("name", help="the user who owns the key")
    key_create.add_argument("--label", default="cli", help="a label shown in key lists")

    audit = sub.add_parser("storage", help="check the file stores")
    audit_sub = audit.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    audit_sub.add_parser(
        "orphans",
        help="list stored artifact files that no artifact version names (exit 1 if any)",
        description="List the version folders in the default store and in every team's "
        "connector that no artifact version names: files of deleted accounts, teams, projects "
        "or versions that were not purged, or of an upload that died half-way. Nothing "
        "printed and exit status 0 means storage holds nothing the database forgot.",
    )

    sub.add_parser(
        "serve",
        help="run the team's labdeck service for a JupyterHub",
        description="Run the labdeck service of a JupyterHub deployment (docs/hub.md): a "
        "jupyter_server with the labdeck extension alone, owning the database, signing "
        "requests in with JupyterHub tokens (checked by the Hub) or labdeck API keys. Under "
        "the Hub (c.JupyterHub.services) it listens where the Hub says; by hand, pass "
        "--ip, --port, --ServerApp.base_url. --workers N runs N processes on that one "
        "address (SO_REUSEPORT; default $LABDECK_SERVE_WORKERS, else 1). Every other option "
        "is a jupyter_server one: "
        "--LabdeckApp.<setting>=…, --HubAuth.<trait>=…, --ServerApp.<trait>=….",
    )

    monitor = sub.add_parser(
        "monitor",
        help="run a command as a monitored run",
        description="Run COMMAND as a monitored run of its own process tree. The run ends "
        "'finished' when the command exits 0 and 'crashed' otherwise; the command's exit "
        "status is returned.",
    )
    monitor.add_argument("--project", default=None, help="project: NAME or ENTITY/NAME")
    monitor.add_argument("--interval", type=float, default=None, help="seconds between samples")
    monitor.add_argument(
        "--save-code",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the command line and the script it runs with the run "
        "(default: the team's code saving setting)",
    )
    monitor.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    return parser


def _warn_config_file(path: str, exc: Exception) -> None:
    print(f"labdeck: skipping config file {path}: {exc}", file=sys.stderr)


def effective_settings(database_url: str | None) -> config.Effective:
    """The settings the command runs with: the Jupyter config files (as the
    server reads them), the environment and its own command line."""
    given = config.from_config_files(on_error=_warn_config_file)
    if database_url:
        origin = config.Origin(config.Source.COMMAND_LINE, "--database-url")
        given["database_url"] = config.Given(database_url, origin)
    return config.read(given)


def render_settings(effective: config.Effective) -> str:
    rows = [("setting", "value", "source")]
    for name, spec in config.SPECS.items():
        value = spec.show(getattr(effective.settings, name))
        rows.append((name, value or "(empty)", str(effective.origins[name])))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(
        f"{name:<{widths[0]}}  {value:<{widths[1]}}  {source}" for name, value, source in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "serve":
        from labdeck.extension.service import main as serve

        if args.database_url:
            extra = [f"--{config.SECTION}.database_url={args.database_url}", *extra]
        return serve(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        effective = effective_settings(args.database_url)
        if args.command == "config":
            print(render_settings(effective))
            return 0
        if args.command == "monitor":
            from labdeck.kernel.command import run_monitored

            command = list(args.argv)
            if command and command[0] == "--":
                command = command[1:]
            if not command:
                print("labdeck monitor: give a command after --", file=sys.stderr)
                return 2
            return run_monitored(
                command,
                project=args.project,
                interval=args.interval,
                settings=effective.settings,
                save_code=args.save_code,
            )
        backend = Backend.open(settings=effective.settings)
        if args.command == "db":
            print(f"database at head: {backend.db.engine.url.render_as_string()}")
        elif args.command == "user":
            from labdeck.backend.services import identity, profile

            actor = identity.create_user(backend, args.name, admin=args.admin, email=args.email)
            info = profile.get_profile(backend, actor)
            print(f"created {info['account_type']} account {info['username']}")
        elif args.command == "key":
            from labdeck.backend.services import apikeys, identity

            actor = identity.actor_for(backend, args.name)
            key = apikeys.create_key(backend, actor, args.label)
            print(key["secret"])
        elif args.command == "storage":
            from labdeck.backend import storage_audit

            found = storage_audit.orphans(backend)
            for prefix in found:
                print(prefix)
            return 1 if found else 0
        return 0
    except LabdeckError as exc:
        print(f"labdeck: {exc.message}", file=sys.stderr)
        return 1
    except config.SettingError as exc:
        print(f"labdeck: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
