"""The ``kmsd`` command: ``serve``, ``accounts create|list`` and the offline ``policy`` tools.

Errors a user can cause (a bad account id, an unreachable store) print one
line to stderr and exit non-zero; nothing here prints a traceback or a secret
other than the credentials it was asked to create.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from kmsd.errors import AwsError
from kmsd.store.base import StoreError


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    from kmsd.server import DEFAULT_STORE_URL

    parser.add_argument(
        "--store",
        default=DEFAULT_STORE_URL,
        help="sqlite:///path/to/kmsd.db or postgresql://user@host:port/db (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    from kmsd.policy.commands import register as register_policy

    parser = argparse.ArgumentParser(prog="kmsd", description="A self-hosted AWS KMS-compatible key service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4599)
    serve.add_argument(
        "--dev",
        action="store_true",
        help="also accept the development credentials: access key id 'test' or any 12-digit account id",
    )
    _add_store_option(serve)

    accounts = commands.add_parser("accounts", help="manage accounts")
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True)
    create = account_commands.add_parser("create", help="create an account and print its root access key")
    create.add_argument("account_id")
    create.add_argument("--json", action="store_true", help="print the credentials as one JSON object")
    _add_store_option(create)
    listing = account_commands.add_parser("list", help="list the accounts")
    _add_store_option(listing)

    register_policy(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            from kmsd.server import serve

            serve(args.host, args.port, args.store, dev=args.dev)
            return 0
        if args.command == "accounts":
            return _accounts(args)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.error(f"unknown command {args.command}")
        return int(handler(args))
    except (StoreError, AwsError) as error:
        message = error.message if isinstance(error, AwsError) else str(error)
        print(f"kmsd: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _accounts(args: argparse.Namespace) -> int:
    from kmsd.server import open_parts

    parts = open_parts(args.store)
    try:
        if args.accounts_command == "create":
            credentials = parts.accounts.create(args.account_id)
            if args.json:
                print(json.dumps(credentials.to_json()))
            else:
                print(f"account {credentials.account_id} created; its root user's access key:")
                print(f"  AWS_ACCESS_KEY_ID={credentials.access_key_id}")
                print(f"  AWS_SECRET_ACCESS_KEY={credentials.secret_access_key}")
            return 0
        for account in parts.accounts.list():
            print(f"{account.account_id}\tcreated {account.created_at.isoformat()}")
        return 0
    finally:
        parts.store.close()


if __name__ == "__main__":
    sys.exit(main())
