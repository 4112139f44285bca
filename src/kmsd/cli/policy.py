"""``kmsd policy check|explain|console-default``: the parsed command line handed to the library that does it.

``check`` and ``explain`` run :mod:`kmsd.policy.commands`; ``check`` is given
the actions of the services kmsd speaks (:mod:`kmsd.cli.known_actions`), so a
typo such as ``kms:Encrpt`` is reported with the nearest real action.
``console-default`` prints the key policy AWS's console writes for a new key
(:mod:`kmsd.authz.console_policy`), ready for ``CreateKey --policy``.
"""

from __future__ import annotations

import argparse
import json
import sys

from kmsd.authz.console_policy import ConsoleKeyType, ConsolePolicyError, console_key_policy_document
from kmsd.cli.known_actions import known_actions
from kmsd.crypto.key_spec import KEY_SPECS
from kmsd.policy import commands


def run_check(args: argparse.Namespace) -> int:
    return commands.check(args.file, args.kind, args.limit, known_actions())


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
