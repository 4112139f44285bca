"""``kmsd policy check`` and ``kmsd policy explain``: the policy engine behind the command line.

:func:`check` lints a document as a policy of one kind
(:func:`kmsd.policy.lint.lint_policy`: AWS's reason for a refusal, the
findings of :mod:`kmsd.policy.findings`, actions that do not exist in the
services the caller names, and the caller's extra checks) and prints the
findings with their line and column, or the ``ValidatePolicy`` response as
JSON; it returns 1 when a finding is at least as severe as ``fail_on``
(ERROR by default, so a refused document fails).  The kind is one of
kmsd's names or AWS's ``policyType`` values (:func:`check_target`), with
``key`` (or the ``AWS::KMS::Key`` resource type) for a key policy.
:func:`explain` evaluates a request (action, resource, principal ARN,
condition keys) against policy files and prints the decision, AWS's
AccessDenied wording for a denial and a per-statement trace, or one JSON
object.  The principal's kind and account come from its ARN.  Problems a user
can cause (a missing file, a bad document, a malformed ``--context``) print
one line to stderr and return 1, never a traceback.  The argument parser is
the CLI's (:mod:`kmsd.cli.parser`): this module takes plain values, so the
policy package stays a library.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsd.policy.context import PrincipalInfo, RequestContext
from kmsd.policy.errors import PolicyValidationError
from kmsd.policy.explain import render_text
from kmsd.policy.findings import FindingType
from kmsd.policy.limits import (
    GROUP_INLINE_POLICY,
    KEY_POLICY,
    MANAGED_POLICY,
    ROLE_INLINE_POLICY,
    SESSION_POLICY,
    USER_INLINE_POLICY,
    SizeLimit,
)
from kmsd.policy.lint import LintReport, PolicyCheck, lint_policy
from kmsd.policy.model import Policy, PolicyKind
from kmsd.policy.parser import parse_policy
from kmsd.policy.service_rules import ServiceDecision, evaluate_with_service_rules, resource_owner

KINDS = {
    "identity": PolicyKind.IDENTITY,
    "resource": PolicyKind.RESOURCE,
    "boundary": PolicyKind.PERMISSIONS_BOUNDARY,
    "session": PolicyKind.SESSION,
}
# ``kmsd policy check --kind``: kmsd's names, ``key`` for a key policy, and ValidatePolicy's policyType values.
CHECK_KINDS = {
    **KINDS,
    "key": PolicyKind.RESOURCE,
    "IDENTITY_POLICY": PolicyKind.IDENTITY,
    "RESOURCE_POLICY": PolicyKind.RESOURCE,
}
# ValidatePolicy's policy types for AWS Organizations, which kmsd does not have.
UNSUPPORTED_KINDS = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
# ValidatePolicy's validatePolicyResourceType for a key policy (AWS's enum does not list it; kmsd adds it).
KEY_RESOURCE_TYPE = "AWS::KMS::Key"
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


@dataclass(frozen=True)
class CheckTarget:
    """What ``kmsd policy check`` checks a document as: its kind, the name to print, and whether it is a key policy."""

    kind: PolicyKind
    name: str
    key_policy: bool


def check_target(kind_name: str, resource_type: str | None = None) -> CheckTarget:
    """The target ``--kind`` and ``--resource-type`` name; UsageError for what kmsd does not check."""
    if kind_name in UNSUPPORTED_KINDS:
        raise UsageError(f"policy type {kind_name} is not supported: kmsd has no AWS Organizations policies")
    kind = CHECK_KINDS[kind_name]
    if resource_type is not None and resource_type != KEY_RESOURCE_TYPE:
        raise UsageError(f"resource type {resource_type} is not supported: kmsd checks {KEY_RESOURCE_TYPE} only")
    key_policy = kind_name == "key" or resource_type == KEY_RESOURCE_TYPE
    if key_policy and kind is not PolicyKind.RESOURCE:
        raise UsageError(f"resource type {KEY_RESOURCE_TYPE} needs a resource policy, not --kind {kind_name}")
    name = (
        "key"
        if key_policy
        else {"IDENTITY_POLICY": "identity", "RESOURCE_POLICY": "resource"}.get(kind_name, kind_name)
    )
    return CheckTarget(kind, name, key_policy)


_FINDING_NAMES = {
    FindingType.ERROR: "error",
    FindingType.SECURITY_WARNING: "security warning",
    FindingType.WARNING: "warning",
    FindingType.SUGGESTION: "suggestion",
}


def check(
    file: str,
    target: CheckTarget,
    limit_name: str | None = None,
    known_actions: Mapping[str, Iterable[str]] | None = None,
    *,
    checks: Sequence[PolicyCheck] = (),
    as_json: bool = False,
    fail_on: FindingType = FindingType.ERROR,
) -> int:
    """``kmsd policy check``: print the findings on ``file``; 1 when one is at least as severe as ``fail_on``.

    ``known_actions`` (service prefix → action names) turns on the invalid-action errors for those services;
    ``checks`` are run on the parsed policy too.
    """
    limit_key = limit_name or ("key" if target.key_policy else None)
    limit = LIMITS[limit_key] if limit_key else None
    try:
        text = _read(file)
    except UsageError as error:
        print(f"kmsd policy check: {error}", file=sys.stderr)
        return 1
    report = lint_policy(text, target.kind, limit=limit, known_actions=known_actions, checks=checks)
    worst = report.worst()
    failed = worst is not None and worst.severity <= fail_on.severity
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        source = "<stdin>" if file == "-" else file
        for finding in report.findings:
            print(finding.render(source))
        print(_summary(report, target, failed))
    return 1 if failed else 0


def _summary(report: LintReport, target: CheckTarget, failed: bool) -> str:
    counts = [_plural(report.count(kind), name) for kind, name in _FINDING_NAMES.items() if report.count(kind)]
    found = ", ".join(counts) if counts else "no findings"
    verdict = "fail" if failed else "ok"
    if report.policy is None:
        return f"{verdict}: not a valid {target.name} policy, {found}"
    statements = _plural(len(report.policy.statements), "statement")
    return f"{verdict}: valid {target.name} policy, {statements}, {found}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def explain(
    action: str,
    resource: str,
    principal_text: str,
    *,
    identity_policies: Sequence[str] = (),
    resource_policy: str | None = None,
    boundary: str | None = None,
    session_policy: str | None = None,
    context_items: Sequence[str] = (),
    as_json: bool = False,
    resource_account: str | None = None,
) -> int:
    """``kmsd policy explain``: print the decision on one request against policy files; 1 on a usage problem.

    The request is decided as the live server decides it, with the rules of
    the service that owns the action (:mod:`kmsd.policy.service_rules`).
    ``resource_account`` names the account that owns the resource where its
    ARN names none (``*``, an S3 bucket ARN).
    """
    try:
        principal = principal_from_arn(principal_text)
        if resource_account is not None and not _ACCOUNT.fullmatch(resource_account):
            raise UsageError(f"--resource-account `{resource_account}` is not a 12-digit account id")
        keys = parse_context(context_items, principal)
        policies = _load_policies(identity_policies, resource_policy, boundary, session_policy)
        owner = resource_owner(resource, principal.account_id, resource_account)
        context = RequestContext(action, resource, principal, keys, resource_account=owner)
    except UsageError as error:
        print(f"kmsd policy explain: {error}", file=sys.stderr)
        return 1
    result = evaluate_with_service_rules(context, policies, root=principal.kind == "root")
    if as_json:
        report: dict[str, Any] = result.to_json()
        if not result.allowed:
            report["message"] = denial_message(context, result.reason)
        print(json.dumps(report, indent=2))
    else:
        print(_render(result, context))
    return 0


def _render(result: ServiceDecision, context: RequestContext) -> str:
    """The text report: the policy trace when policies were evaluated, and the service rule that decided."""
    if result.decision is None:
        lines = [f"decision: {result.outcome.value}"]
    else:
        lines = render_text(result.decision, context).splitlines()
        lines[0] = f"decision: {result.outcome.value}"
        # The trace's reason line speaks of the policies alone; the service's reason replaces it.
        lines = [line for line in lines if not line.startswith("reason: ")]
        if not result.allowed:
            lines.insert(1, f"reason: {denial_message(context, result.reason)}")
    if result.rule is not None:
        lines.insert(1, f"service rule: {result.rule}")
    if result.error is not None:
        lines.insert(1, f"error: the service answers {result.error}")
    return "\n".join(lines)


def denial_message(context: RequestContext, reason: str) -> str:
    """AWS's AccessDenied message for ``context`` (STS's names no reason)."""
    message = (
        f"User: {context.principal.arn} is not authorized to perform: {context.action} on resource: {context.resource}"
    )
    return f"{message} {reason}" if reason else message


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


def _load_policies(
    identity: Sequence[str], resource: str | None, boundary: str | None, session: str | None
) -> list[Policy]:
    policies = [_load(path, PolicyKind.IDENTITY) for path in identity]
    for path, kind in (
        (resource, PolicyKind.RESOURCE),
        (boundary, PolicyKind.PERMISSIONS_BOUNDARY),
        (session, PolicyKind.SESSION),
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
