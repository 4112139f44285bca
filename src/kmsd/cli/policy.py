"""``kmsd policy check|explain``: the parsed command line handed to :mod:`kmsd.policy.commands`.

``check`` is given the actions of the services kmsd speaks
(:mod:`kmsd.cli.known_actions`), so a typo such as ``kms:Encrpt`` is reported
with the nearest real action.
"""

from __future__ import annotations

import argparse

from kmsd.cli.known_actions import known_actions
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
