"""The `labdeck` command line (F-UI-7).

It lives at the top of the namespace because it spans layers: the database
and account commands use `backend`, `labdeck monitor` uses `kernel`, which is
imported only when that command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labdeck.backend.context import Backend
from labdeck.backend.db import ENV_URL
from labdeck.backend.errors import LabdeckError

DB_HELP = f"database URL (default: ${ENV_URL}, else a SQLite file in the Jupyter data dir)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labdeck",
        description="labdeck: team workspace and hardware monitoring for JupyterLab.",
    )
    parser.add_argument("--database-url", help=DB_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    monitor = sub.add_parser(
        "monitor",
        help="run a command as a monitored run",
        description="Run COMMAND as a monitored run of its own process tree. The run ends "
        "'finished' when the command exits 0 and 'crashed' otherwise; the command's exit "
        "status is returned.",
    )
    monitor.add_argument("--project", default=None, help="project: NAME or ENTITY/NAME")
    monitor.add_argument("--interval", type=float, default=None, help="seconds between samples")
    monitor.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
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
                database_url=args.database_url,
            )
        backend = Backend.open(args.database_url)
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
        return 0
    except LabdeckError as exc:
        print(f"labdeck: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
