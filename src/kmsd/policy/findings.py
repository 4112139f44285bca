"""Warnings about valid policies, in the spirit of IAM Access Analyzer's policy checks.

A document can parse and still do something its author probably did not
mean.  :func:`review` runs a few cheap checks modelled on Access Analyzer's
("IAM Access Analyzer policy check reference"): security warnings for
``Allow`` with ``NotAction``/``NotResource``, public resource access and
``ForAllValues`` with ``Allow``; warnings for set operators used with
single-valued keys and plain operators used with multivalued ones, and for
operators of the wrong type for well-known keys; suggestions for a missing
``Version`` and repeated actions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kmsd.policy.model import Effect, Policy, PolicyKind, Statement
from kmsd.policy.operators import Family, SetOperator, parse_operator


class Severity(enum.Enum):
    SECURITY_WARNING = "security-warning"
    WARNING = "warning"
    SUGGESTION = "suggestion"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    statement: str = ""  # the statement's Sid or #index; empty for the whole document

    def render(self) -> str:
        where = f"statement {self.statement}: " if self.statement else ""
        return f"{self.severity.value}: {where}{self.message} [{self.code}]"


# Multivalued keys among the global and KMS keys ("ArrayOf..." in the Service Authorization Reference).
MULTIVALUED_KEYS = frozenset(
    {
        "aws:tagkeys",
        "aws:principalservicenameslist",
        "aws:calledvia",
        "kms:encryptioncontextkeys",
        "kms:grantoperations",
        "kms:resourcealiases",
    }
)
# Well-known keys and the operator family their type calls for.
KEY_FAMILIES = {
    "aws:sourceip": Family.IP,
    "aws:currenttime": Family.DATE,
    "aws:epochtime": Family.DATE,
    "aws:tokenissuetime": Family.DATE,
    "aws:securetransport": Family.BOOL,
    "aws:multifactorauthpresent": Family.BOOL,
    "aws:multifactorauthage": Family.NUMERIC,
    "aws:principalarn": Family.ARN,
    "aws:sourcearn": Family.ARN,
    "kms:multiregion": Family.BOOL,
    "kms:bypasspolicylockoutsafetycheck": Family.BOOL,
    "kms:grantisforawsresource": Family.BOOL,
    "kms:reencryptonsamekey": Family.BOOL,
    "kms:schedulekeydeletionpendingwindowindays": Family.NUMERIC,
    "kms:rotationperiodindays": Family.NUMERIC,
    "kms:validto": Family.DATE,
}
# Families whose operators suit a key of another family: ARNs and numbers may be compared as strings.
_COMPATIBLE = {Family.ARN: {Family.STRING}, Family.NUMERIC: set(), Family.BOOL: set()}


def review(policy: Policy) -> list[Finding]:
    """Findings for ``policy``, in document order."""
    findings: list[Finding] = []
    if policy.document.version != "2012-10-17":
        findings.append(
            Finding(
                Severity.SUGGESTION,
                "old-version",
                "the policy uses language version 2008-10-17 (the default when Version is missing): policy "
                'variables are plain text; add "Version": "2012-10-17"',
            )
        )
    for statement in policy.statements:
        findings.extend(_review_statement(policy, statement))
    return findings


def _review_statement(policy: Policy, statement: Statement) -> list[Finding]:
    label = statement.label
    allow = statement.effect is Effect.ALLOW
    found: list[Finding] = []

    def add(severity: Severity, code: str, message: str) -> None:
        found.append(Finding(severity, code, message, label))

    if allow and statement.not_action is not None:
        add(Severity.SECURITY_WARNING, "allow-with-not-action", "Allow with NotAction allows every action not listed")
    if allow and statement.not_resource is not None:
        add(
            Severity.SECURITY_WARNING,
            "allow-with-not-resource",
            "Allow with NotResource allows every resource not listed",
        )
    if allow and policy.kind is PolicyKind.RESOURCE and not statement.conditions:
        principal = statement.principal
        everyone = principal is not None and (
            principal.everyone or any("*" in values for kind, values in principal.entries if kind == "AWS")
        )
        if everyone or statement.not_principal is not None:
            add(
                Severity.SECURITY_WARNING,
                "public-access",
                "the statement allows every principal, anonymous callers included, without a condition",
            )
    actions = statement.action or statement.not_action or ()
    folded = [action.lower() for action in actions]
    if len(set(folded)) != len(folded):
        add(Severity.SUGGESTION, "redundant-action", "an action is listed more than once")
    for condition in statement.conditions:
        operator = parse_operator(condition.operator)
        if operator is None:
            continue
        key = condition.key.lower()
        prefix = operator.set_operator
        if prefix is SetOperator.FOR_ALL_VALUES and allow:
            add(
                Severity.SECURITY_WARNING,
                "allow-with-for-all-values",
                f"ForAllValues with Allow holds when `{condition.key}` is missing or empty; "
                "add a Null condition or use ForAnyValue",
            )
        if prefix is not None and key in KEY_FAMILIES:
            add(
                Severity.WARNING,
                "set-operator-on-single-valued-key",
                f"`{condition.operator}` uses a set operator on the single-valued key `{condition.key}`",
            )
        if prefix is None and key in MULTIVALUED_KEYS and operator.base.family is not Family.NULL:
            add(
                Severity.WARNING,
                "missing-set-operator",
                f"`{condition.key}` is multivalued: use ForAnyValue: or ForAllValues: with `{condition.operator}`",
            )
        wanted = KEY_FAMILIES.get(key)
        family = operator.base.family
        if wanted is not None and family not in (wanted, Family.NULL) and family not in _COMPATIBLE.get(wanted, ()):
            add(
                Severity.WARNING,
                "type-mismatch",
                f"`{condition.key}` is compared with `{condition.operator}`; its type calls for a "
                f"{wanted.value} operator",
            )
    return found
