"""``kmsd policy check`` and ``kmsd policy explain``: the policy engine from the command line.

``check FILE`` validates a document as a policy of one kind and prints
AWS's reason for a refusal, or the warnings of :mod:`kmsd.policy.findings`;
it exits 1 when the document is refused.  ``explain`` evaluates a request
(action, resource, principal ARN, condition keys) against policy files and
prints the decision, AWS's AccessDenied wording for a denial and a
per-statement trace, or one JSON object with ``--json``.  The principal's
kind and account come from its ARN.  Problems a user can cause (a missing
file, a bad document, a malformed ``--context``) print one line to stderr and
exit 1, never a traceback.  ``register`` adds the commands to the ``kmsd``
parser; ``python -m kmsd.policy.commands`` runs them on their own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kmsd.policy.context import PrincipalInfo, RequestContext
from kmsd.policy.errors import PolicyValidationError
from kmsd.policy.evaluate import evaluate
from kmsd.policy.explain import render_text
from kmsd.policy.findings import Severity, review
from kmsd.policy.limits import (
    GROUP_INLINE_POLICY,
    KEY_POLICY,
    MANAGED_POLICY,
    ROLE_INLINE_POLICY,
    SESSION_POLICY,
    USER_INLINE_POLICY,
    SizeLimit,
)
from kmsd.policy.model import Policy, PolicyKind
from kmsd.policy.parser import parse_policy

KINDS = {
    "identity": PolicyKind.IDENTITY,
    "resource": PolicyKind.RESOURCE,
    "boundary": PolicyKind.PERMISSIONS_BOUNDARY,
    "session": PolicyKind.SESSION,
}
LIMITS = {
    "key": KEY_POLICY,
    "managed": MANAGED_POLICY,
    "user-inline": USER_INLINE_POLICY,
    "group-inline": GROUP_INLINE_POLICY,
    "role-inline": ROLE_INLINE_POLICY,
    "session": SESSION_POLICY,
}
WEB_IDENTITY_PROVIDERS = frozenset({"accounts.google.com", "graph.facebook.com", "www.amazon.com"})

_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):(root|user/.+|role/.+|saml-provider/.+|oidc-provider/.+)")
_SESSION_ARN = re.compile(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/([^/]+)")


class UsageError(Exception):
    """A problem with the command line or its files, reported as one line."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``policy check`` and ``policy explain`` to a parser's subcommands."""
    policy = subparsers.add_parser("policy", help="check and explain IAM policy documents offline")
    commands = policy.add_subparsers(dest="policy_command", required=True)

    check = commands.add_parser("check", help="validate a policy document and print findings")
    check.add_argument("file", metavar="FILE", help="the policy document (JSON); - reads stdin")
    check.add_argument("--kind", choices=sorted(KINDS), default="identity", help="the kind of policy")
    check.add_argument(
        "--limit",
        choices=sorted(LIMITS),
        help="size limit to apply (default: key for resource, session for session, managed otherwise)",
    )
    check.set_defaults(handler=run_check)

    explain = commands.add_parser("explain", help="decide one request against policy files and explain it")
    explain.add_argument("--action", required=True, help="e.g. kms:Encrypt")
    explain.add_argument("--resource", required=True, help="the resource ARN, or *")
    explain.add_argument(
        "--principal",
        required=True,
        help="the caller: a user, role, root or assumed-role ARN, an account id, a service or *",
    )
    explain.add_argument("--policy", action="append", default=[], metavar="FILE", help="an identity-based policy")
    explain.add_argument("--resource-policy", metavar="FILE", help="the resource-based (key) policy")
    explain.add_argument("--boundary", metavar="FILE", help="the permissions boundary")
    explain.add_argument("--session-policy", metavar="FILE", help="the session policy")
    explain.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a condition key; repeat a key to make it multivalued",
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(handler=run_explain)


def run_check(args: argparse.Namespace) -> int:
    kind = KINDS[args.kind]
    limit = LIMITS[args.limit] if args.limit else None
    try:
        text = _read(args.file)
        policy = parse_policy(text, kind, Path(args.file).stem, max_size=limit)
    except UsageError as error:
        print(f"kmsd policy check: {error}", file=sys.stderr)
        return 1
    except PolicyValidationError as error:
        detail = f" ({error.detail})" if error.detail else ""
        print(f"error: {error.message}{detail}")
        return 1
    findings = review(policy)
    for finding in findings:
        print(finding.render())
    warnings = sum(1 for finding in findings if finding.severity is not Severity.SUGGESTION)
    count = len(policy.statements)
    print(f"ok: valid {args.kind} policy, {_plural(count, 'statement')}, {_plural(warnings, 'warning')}")
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def run_explain(args: argparse.Namespace) -> int:
    try:
        principal = principal_from_arn(args.principal)
        keys = parse_context(args.context, principal)
        policies = _load_policies(args)
        context = RequestContext(args.action, args.resource, principal, keys)
    except UsageError as error:
        print(f"kmsd policy explain: {error}", file=sys.stderr)
        return 1
    decision = evaluate(context, policies)
    if args.json:
        report: dict[str, Any] = decision.to_json()
        if decision.denial_kind is not None:
            report["message"] = denial_message(context, decision.denial_reason(context.action))
        print(json.dumps(report, indent=2))
    else:
        print(render_text(decision, context))
    return 0


def denial_message(context: RequestContext, reason: str) -> str:
    """AWS's AccessDenied message for ``context``."""
    return (
        f"User: {context.principal.arn} is not authorized to perform: {context.action} "
        f"on resource: {context.resource} {reason}"
    )


def principal_from_arn(text: str) -> PrincipalInfo:
    """The caller a principal ARN (or account id, service name, ``*``) stands for."""
    if text in ("*", "anonymous"):
        return PrincipalInfo("*", "", "anonymous")
    if _ACCOUNT.fullmatch(text):
        return PrincipalInfo(f"arn:aws:iam::{text}:root", text, "root")
    session = _SESSION_ARN.fullmatch(text)
    if session is not None:
        partition, account, role, _ = session.groups()
        # A session ARN omits the role's path; the role ARN is rebuilt without one.
        return PrincipalInfo(text, account, "assumed-role", role_arn=f"arn:{partition}:iam::{account}:role/{role}")
    identity = _IAM_ARN.fullmatch(text)
    if identity is not None:
        account, resource = identity.group(2), identity.group(3)
        if resource == "root":
            return PrincipalInfo(text, account, "root")
        if resource.startswith(("saml-provider/", "oidc-provider/")):
            return PrincipalInfo(text, account, "federated")
        return PrincipalInfo(text, account, "user" if resource.startswith("user/") else "role")
    if text in WEB_IDENTITY_PROVIDERS:
        return PrincipalInfo(text, "", "federated")
    if text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn"):
        return PrincipalInfo(text, "", "service")
    raise UsageError(
        f"cannot tell what kind of principal `{text}` is: expected an account id, a root, user, role or "
        "assumed-role ARN, a service principal or *"
    )


def parse_context(items: Sequence[str], principal: PrincipalInfo) -> dict[str, str | list[str]]:
    """``KEY=VALUE`` items as condition keys; a key given twice is multivalued.

    The keys AWS derives from the caller (``aws:PrincipalArn``,
    ``aws:PrincipalAccount``, and ``aws:username`` for an IAM user) are
    filled in unless given.
    """
    keys: dict[str, str | list[str]] = {}
    spelled: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UsageError(f"--context `{item}` is not KEY=VALUE")
        folded = name.lower()
        if folded in spelled:
            existing = keys[spelled[folded]]
            keys[spelled[folded]] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            spelled[folded] = name
            keys[name] = value
    derived: dict[str, str] = {}
    if principal.kind not in ("service", "federated", "anonymous"):
        derived["aws:PrincipalArn"] = principal.role_arn or principal.arn
        derived["aws:PrincipalAccount"] = principal.account_id
    if principal.kind == "user":
        derived["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    for name, value in derived.items():
        if name.lower() not in spelled:
            keys[name] = value
    return keys


def _load_policies(args: argparse.Namespace) -> list[Policy]:
    policies = [_load(path, PolicyKind.IDENTITY) for path in args.policy]
    for path, kind in (
        (args.resource_policy, PolicyKind.RESOURCE),
        (args.boundary, PolicyKind.PERMISSIONS_BOUNDARY),
        (args.session_policy, PolicyKind.SESSION),
    ):
        if path:
            policies.append(_load(path, kind))
    return policies


def _load(path: str, kind: PolicyKind) -> Policy:
    text = _read(path)
    try:
        # Offline explanations check meaning, not quotas: the size limit is left to `policy check`.
        return parse_policy(text, kind, Path(path).stem, max_size=_NO_LIMIT)
    except PolicyValidationError as error:
        detail = f" ({error.detail})" if error.detail else ""
        raise UsageError(f"{path}: {error.message}{detail}") from None


_NO_LIMIT = SizeLimit("policy", sys.maxsize, True, "bytes", "")


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kmsd")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
