"""``kmsd policy check|explain|console-default``: the parsed command line handed to the library that does it.

``check`` and ``explain`` run :mod:`kmsd.policy.commands`; ``check`` is given
the actions of the services kmsd speaks (:mod:`kmsd.api.known_actions`), so a
typo such as ``kms:Encrpt`` is reported with the nearest real action, and
KMS's checks (:mod:`kmsd.authz.policy_checks`).  For a key policy those
include the lockout safety check, asked of the live authorizer: against the
``--store`` given (which is only read), or else against a throwaway store
holding nothing but the account, where the account's root user is the only
principal there can be.  With ``--store``, identity policies of the key's
account that name the key are checked against the key policy's delegation.
``console-default`` prints the key policy AWS's console writes for a new key
(:mod:`kmsd.authz.console_policy`), ready for ``CreateKey --policy``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kmsd.api.known_actions import known_actions
from kmsd.authz.console_policy import ConsoleKeyType, ConsolePolicyError, console_key_policy_document
from kmsd.crypto.key_spec import KEY_SPECS
from kmsd.policy import commands
from kmsd.policy.findings import FindingType
from kmsd.policy.lint import PolicyCheck


def run_check(args: argparse.Namespace) -> int:
    """Exit 1 when a finding is as severe as ``--fail-on`` or the check cannot be made, else 0."""
    from kmsd.authz.explain import ExplainError
    from kmsd.store.base import StoreError

    fail_on = FindingType[args.fail_on.upper().replace("-", "_")]
    try:
        target = commands.check_target(args.kind, args.resource_type)
        if not target.key_policy and (args.store or args.key or args.principal):
            raise commands.UsageError("--store, --key and --principal check a key policy: add --kind key")
        with _key_policy_checks(args, target.key_policy) as checks:
            return commands.check(
                args.file,
                target,
                args.limit,
                known_actions(),
                checks=checks,
                as_json=args.json,
                fail_on=fail_on,
            )
    except (commands.UsageError, ExplainError, StoreError) as error:
        print(f"kmsd policy check: {error}", file=sys.stderr)
        return 1


@contextmanager
def _key_policy_checks(args: argparse.Namespace, key_policy: bool) -> Iterator[list[PolicyCheck]]:
    """KMS's checks for the target, with the store they read open while they run."""
    from kmsd.authz.explain import principal_from_arn
    from kmsd.authz.policy_checks import delegation_check, lockout_check, offline_checks
    from kmsd.clock import SystemClock
    from kmsd.store.sqlite import SqliteStore
    from kmsd.store.urls import open_store, sqlite_path

    checks = offline_checks(key_policy)
    if not key_policy:
        yield checks
        return
    clock = SystemClock()
    if args.store is not None:
        if args.store.startswith("sqlite:") and not sqlite_path(args.store).exists():
            # Opening a SQLite URL creates the file: a mistyped path would leave an empty store behind.
            raise commands.UsageError(f"no store at {args.store}")
        store = open_store(args.store)
        try:
            if args.principal is not None:
                # Said before the document is read: the check cannot be made for a principal that is not there.
                principal_from_arn(store, clock, args.principal)
            lockout = lockout_check(store, clock, principal=args.principal, key_arn=args.key)
            yield [*checks, lockout, delegation_check(store, principal=args.principal, key_arn=args.key)]
        finally:
            store.close()
        return
    if args.principal is not None and not _is_root(args.principal):
        raise commands.UsageError("a --principal other than an account root needs --store, where it exists")
    with tempfile.TemporaryDirectory(prefix="kmsd-policy-check-") as directory:
        scratch = SqliteStore(Path(directory) / "scratch.db")
        try:
            yield [*checks, lockout_check(scratch, clock, principal=args.principal, key_arn=args.key, scratch=True)]
        finally:
            scratch.close()


def _is_root(principal: str) -> bool:
    return principal.isdigit() or (principal.startswith("arn:") and principal.endswith(":root"))


def run_explain(args: argparse.Namespace) -> int:
    return commands.explain(
        args.action,
        args.resource,
        args.principal,
        identity_policies=args.policy,
        resource_policy=args.resource_policy,
        boundary=args.boundary,
        session_policy=args.session_policy,
        context_items=args.context,
        as_json=args.json,
        resource_account=args.resource_account,
    )


def run_console_default(args: argparse.Namespace) -> int:
    spec = KEY_SPECS[args.key_spec]
    # A spec with one usage needs no --key-usage, as the console's wizard offers no choice for it.
    usage = args.key_usage or (spec.key_usages[0] if len(spec.key_usages) == 1 else None)
    try:
        if usage is None:
            raise ConsolePolicyError(f"{spec.name} keys need --key-usage ({', '.join(spec.key_usages)})")
        key_type = ConsoleKeyType(spec, usage, multi_region=args.multi_region, imported=args.origin == "EXTERNAL")
        document = console_key_policy_document(
            args.account,
            key_type,
            administrators=args.admin,
            users=args.user,
            administrators_may_delete=not args.no_admin_deletion,
        )
    except ConsolePolicyError as error:
        print(f"kmsd: {error}", file=sys.stderr)
        return 2
    # Four-space indents: the layout of the console's policy view, which is the text it submits.
    print(json.dumps(document, indent=4))
    return 0
