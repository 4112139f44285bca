"""``kmsd authz explain``: the store's KMS authorizer asked one question offline, and its answer printed.

``--key`` takes whatever a KMS ``KeyId`` parameter takes (a key id, key ARN,
alias name or alias ARN, as in "Key identifiers (KeyId)" of the AWS KMS
Developer Guide); a key id or alias name is completed into an ARN from
``--region`` and ``--account`` (by default the principal's account), because
a key lives in one account and one region.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

_ACCOUNT = re.compile(r"\d{12}")


class KeyNameError(Exception):
    """``--key`` cannot be turned into an ARN with the options given."""


def key_arn(key: str, account: str | None, region: str | None, principal: str) -> str:
    """The ARN ``key`` names: an ARN as given, a key id or alias name in ``account`` (or the principal's)."""
    if key.startswith("arn:"):
        return key
    owner = account or _account_of(principal)
    if owner is None:
        raise KeyNameError(f"--key `{key}` is not an ARN: give --account (the principal names no account)")
    if region is None:
        raise KeyNameError(f"--key `{key}` is not an ARN: give --region")
    resource = key if key.startswith("alias/") else f"key/{key}"
    return f"arn:aws:kms:{region}:{owner}:{resource}"


def _account_of(principal: str) -> str | None:
    if _ACCOUNT.fullmatch(principal):
        return principal
    fields = principal.split(":")
    if len(fields) >= 5 and fields[0] == "arn" and _ACCOUNT.fullmatch(fields[4]):
        return fields[4]
    return None


def run_authz_explain(args: argparse.Namespace) -> int:
    """Exit 0 with the answer (allowed or denied); 1 when the question cannot be asked."""
    from kmsd.authz.explain import ExplainError, explain
    from kmsd.clock import SystemClock
    from kmsd.store.urls import open_store

    try:
        key = key_arn(args.key, args.account, args.region, args.principal) if args.key is not None else None
    except KeyNameError as error:
        print(f"kmsd authz explain: {error}", file=sys.stderr)
        return 1
    store = open_store(args.store)
    try:
        answer = explain(store, SystemClock(), args.principal, args.action, key, args.context)
    except ExplainError as error:
        print(f"kmsd authz explain: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(json.dumps(answer.to_json(), indent=2) if args.json else answer.render_text())
    return 0
