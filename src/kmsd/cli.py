"""The ``kmsd`` command: ``serve``, ``accounts create|list``, the offline ``policy`` tools and ``authz explain``.

Errors a user can cause (a bad account id, an unreachable store) print one
line to stderr and exit non-zero; nothing here prints a traceback or a secret
other than the credentials it was asked to create.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from kmsd.crypto.root_key import RootKeyError
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
    serve.add_argument(
        "--explain-denials",
        action="store_true",
        help="add the trace of each AccessDenied decision to its JSON body (member kmsdExplanation), "
        "for callers in the account that owns the key; other accounts get AWS's plain message",
    )
    serve.add_argument(
        "--trusted-proxy-header",
        metavar="HEADER",
        help="take aws:SourceIp from this header (e.g. X-Forwarded-For) set by trusted proxies: all its lines are "
        "joined in order and the address is read from the right, past --trusted-proxy-hops",
    )
    serve.add_argument(
        "--trusted-proxy-hops",
        metavar="N",
        type=_positive_int,
        default=1,
        help="how many trusted proxies append to --trusted-proxy-header; aws:SourceIp is the N-th address "
        "from the right (default: %(default)s, the address the nearest proxy appended)",
    )
    serve.add_argument(
        "--trusted-service-header",
        metavar="HEADER",
        help="take kms:ViaService (e.g. ec2.us-east-1.amazonaws.com) from this header set by a trusted front end; "
        "a request with the header repeated or listing several values is refused (ValidationException)",
    )
    serve.add_argument(
        "--regions",
        metavar="REGION,...",
        type=_region_list,
        help="accept requests signed only for these regions (e.g. us-east-1,eu-west-1); "
        "default: any AWS region name (AWS's partition patterns)",
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

    authz = commands.add_parser("authz", help="the KMS authorizer, offline")
    authz_commands = authz.add_subparsers(dest="authz_command", required=True)
    explain = authz_commands.add_parser(
        "explain", help="can PRINCIPAL do ACTION on KEY (with CONTEXT) according to the store, and why"
    )
    explain.add_argument("--principal", required=True, help="an account id, or a root, user, role or session ARN")
    explain.add_argument("--action", required=True, help="e.g. kms:Encrypt")
    explain.add_argument("--key", help="the key ARN or alias ARN (leave out for actions on no key, e.g. kms:CreateKey)")
    explain.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a condition key of the request, e.g. kms:EncryptionContext:app=payroll or aws:SourceIp=10.0.0.1",
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    _add_store_option(explain)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _region_list(text: str) -> list[str]:
    from kmsd.api.regions import parse_region_list

    try:
        return parse_region_list(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            from kmsd.server import RequestOptions, serve

            options = RequestOptions(
                explain_denials=args.explain_denials,
                trusted_proxy_header=args.trusted_proxy_header,
                trusted_service_header=args.trusted_service_header,
                trusted_proxy_hops=args.trusted_proxy_hops,
                regions=tuple(args.regions) if args.regions is not None else None,
            )
            serve(args.host, args.port, args.store, dev=args.dev, options=options)
            return 0
        if args.command == "accounts":
            return _accounts(args)
        if args.command == "authz":
            return _authz_explain(args)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.error(f"unknown command {args.command}")
        return int(handler(args))
    except (StoreError, AwsError, RootKeyError) as error:
        # RootKeyError: a missing, unreadable or wrong root key (not the store's own) is refused in one line.
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


def _authz_explain(args: argparse.Namespace) -> int:
    """Exit 0 with the answer (allowed or denied); 1 when the question cannot be asked."""
    from kmsd.authz.explain import ExplainError, explain
    from kmsd.clock import SystemClock
    from kmsd.store.urls import open_store

    store = open_store(args.store)
    try:
        answer = explain(store, SystemClock(), args.principal, args.action, args.key, args.context)
    except ExplainError as error:
        print(f"kmsd authz explain: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(json.dumps(answer.to_json(), indent=2) if args.json else answer.render_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
