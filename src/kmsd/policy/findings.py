"""Findings about valid policies, in IAM Access Analyzer's shape (``ValidatePolicy``'s ``ValidatePolicyFinding``).

A :class:`Finding` has AWS's ``findingType`` (ERROR, SECURITY_WARNING,
WARNING, SUGGESTION), an ``issueCode`` (AWS's where Access Analyzer has the
check, see :mod:`kmsd.policy.issue_codes`), ``findingDetails`` and a
``learnMoreLink``, plus the paths into the document it is about; once the
text is mapped (:mod:`kmsd.policy.locations`) each path becomes a location
with its span, and :meth:`Finding.to_json` is one ``ValidatePolicyFinding``.

:func:`review` runs the checks that need nothing but the document, modelled
on Access Analyzer's ("IAM Access Analyzer policy check reference"):

- security warnings: ``Allow`` with ``NotAction``, ``NotResource`` or
  ``NotPrincipal``; a resource policy open to every principal without a
  condition; ``ForAllValues`` with ``Allow``, or with a single-valued key;
- warnings: a missing ``Version``; ``ForAnyValue`` on a single-valued key and
  a plain operator on a multivalued one; an operator of the wrong type for a
  well-known key; a ``Bool`` value that is neither true nor false; ``*`` or
  ``?`` in a value of an operator that does not match wildcards; and
  conditions that can never match (listed at :func:`_never_matches`);
- errors: one condition key spelled two ways under one operator;
- suggestions: the 2008-10-17 language version, an action listed twice.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kmsd.policy.issue_codes import learn_more_link
from kmsd.policy.locations import DocumentMap, Location, Path, PathElement, index, statement_path, value
from kmsd.policy.model import Condition, Effect, Policy, PolicyKind, Statement
from kmsd.policy.operators import Comparison, Family, SetOperator, parse_operator
from kmsd.policy.values import parse_date, parse_number


class FindingType(enum.Enum):
    """``ValidatePolicyFindingType``, most severe first."""

    ERROR = "ERROR"
    SECURITY_WARNING = "SECURITY_WARNING"
    WARNING = "WARNING"
    SUGGESTION = "SUGGESTION"

    @property
    def severity(self) -> int:
        """0 for ERROR up to 3 for SUGGESTION."""
        return list(FindingType).index(self)

    @property
    def label(self) -> str:
        """The type as the text output writes it: ``security-warning``."""
        return self.value.lower().replace("_", "-")


@dataclass(frozen=True)
class Finding:
    """One finding; ``paths`` say where in the document, ``locations`` add the spans once the text is mapped.

    ``learn_more_link`` defaults to the issue code's page (:func:`kmsd.policy.issue_codes.learn_more_link`).
    """

    finding_type: FindingType
    issue_code: str
    details: str
    paths: tuple[Path, ...] = ()
    learn_more_link: str = ""
    # Issue codes this finding replaces at its first path (a specific check over a generic one); not output.
    supersedes: tuple[str, ...] = ()
    locations: tuple[Location, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.learn_more_link:
            object.__setattr__(self, "learn_more_link", learn_more_link(self.issue_code))

    def located(self, document: DocumentMap | None) -> Finding:
        """This finding with a location for each of its paths in ``document`` (none when there is no map)."""
        if document is None or self.locations:
            return self
        return replace(self, locations=tuple(document.resolve(path) for path in self.paths))

    def to_json(self) -> dict[str, Any]:
        """One ``ValidatePolicyFinding``."""
        return {
            "findingDetails": self.details,
            "findingType": self.finding_type.value,
            "issueCode": self.issue_code,
            "learnMoreLink": self.learn_more_link,
            "locations": [location.to_json() for location in self.locations],
        }

    def render(self, source: str) -> str:
        """``source:line:column: type: details [CODE]`` (no line and column without a location)."""
        where = source
        if self.locations:
            start = self.locations[0].span.start
            where = f"{source}:{start.line}:{start.column}"
        return f"{where}: {self.finding_type.label}: {self.details} [{self.issue_code}]"


def validate_policy_response(findings: Iterable[Finding]) -> dict[str, Any]:
    """A ``ValidatePolicy`` response: ``{"findings": [...]}``."""
    return {"findings": [finding.to_json() for finding in findings]}


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
# Keys whose value is a moment no earlier than the epoch: the request's time, or a session's issue time.
_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime", "aws:tokenissuetime"})
# Numeric keys that count something (days, seconds), never below zero.
_COUNT_KEYS = frozenset(name for name, family in KEY_FAMILIES.items() if family is Family.NUMERIC)


def review(policy: Policy, document: DocumentMap | None = None) -> list[Finding]:
    """Findings for ``policy``, in document order; ``document`` (its text's map) tells a missing Version apart."""
    findings: list[Finding] = []
    if policy.document.version != "2012-10-17":
        given = document is not None and document.resolve((value("Version"),)).path == (value("Version"),)
        if given:
            findings.append(
                Finding(
                    FindingType.SUGGESTION,
                    "OLD_VERSION",
                    "The policy uses language version 2008-10-17, in which policy variables are plain text. "
                    "We recommend that you use version 2012-10-17.",
                    ((value("Version"),),),
                )
            )
        else:
            # Access Analyzer, "General Warning – Missing version".
            findings.append(
                Finding(
                    FindingType.WARNING,
                    "MISSING_VERSION",
                    "We recommend that you specify the Version element to help you with debugging permission issues.",
                    ((),),
                )
            )
    for statement in policy.statements:
        findings.extend(_review_statement(policy, statement))
    return findings


def _review_statement(policy: Policy, statement: Statement) -> list[Finding]:
    allow = statement.effect is Effect.ALLOW
    found: list[Finding] = []

    def add(finding_type: FindingType, code: str, details: str, *paths: tuple[PathElement, ...]) -> None:
        found.append(Finding(finding_type, code, details, tuple(statement_path(statement.index, *p) for p in paths)))

    if allow and statement.not_action is not None:
        add(
            FindingType.SECURITY_WARNING,
            "ALLOW_WITH_NOT_ACTION",
            "Using Allow with NotAction allows every action that is not listed, including actions added later. "
            "We recommend that you list the allowed actions in Action instead.",
            (value("NotAction"),),
        )
    if allow and statement.not_resource is not None:
        add(
            FindingType.SECURITY_WARNING,
            "ALLOW_WITH_NOT_RESOURCE",
            "Using Allow with NotResource allows every resource that is not listed. We recommend that you list "
            "the allowed resources in Resource instead.",
            (value("NotResource"),),
        )
    if allow and statement.not_principal is not None:
        # Access Analyzer, "Security Warning – Allow with NotPrincipal" (its wording).
        add(
            FindingType.SECURITY_WARNING,
            "ALLOW_WITH_NOT_PRINCIPAL",
            "Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead.",
            (value("NotPrincipal"),),
        )
    if allow and policy.kind is PolicyKind.RESOURCE and not statement.conditions and open_to_everyone(statement):
        add(
            FindingType.SECURITY_WARNING,
            "PUBLIC_ACCESS",
            "The statement allows every principal, anonymous callers included, without a condition. We recommend "
            "that you name the principals or add a condition such as kms:CallerAccount or aws:PrincipalOrgID.",
            (value("Principal"),),
        )
    element = "Action" if statement.action is not None else "NotAction"
    seen: set[str] = set()
    for position, action in enumerate(statement.action or statement.not_action or ()):
        folded = action.lower()
        if folded in seen:
            add(
                FindingType.SUGGESTION,
                "REDUNDANT_ACTION",
                f"The action {action} is listed more than once; remove the repeats.",
                (value(element), index(position)),
            )
        seen.add(folded)
    found.extend(_review_conditions(statement, allow))
    return found


def open_to_everyone(statement: Statement) -> bool:
    """Whether the statement's ``Principal`` is ``"*"`` or has ``"*"`` among its ``AWS`` values."""
    principal = statement.principal
    if principal is None:
        return False
    return principal.everyone or any("*" in values for kind, values in principal.entries if kind == "AWS")


def condition_path(statement: Statement, condition: Condition, *rest: PathElement) -> Path:
    """The path of ``condition`` (its key under its operator) in ``statement``, then ``rest``."""
    return statement_path(statement.index, value("Condition"), value(condition.operator), value(condition.key), *rest)


def _review_conditions(statement: Statement, allow: bool) -> list[Finding]:
    found: list[Finding] = []

    def add(finding_type: FindingType, code: str, details: str, path: Path) -> None:
        found.append(Finding(finding_type, code, details, (path,)))

    spellings: dict[tuple[str, str], str] = {}
    for condition in statement.conditions:
        operator = parse_operator(condition.operator)
        if operator is None:
            continue
        key = condition.key.lower()
        where = condition_path(statement, condition)
        first = spellings.setdefault((condition.operator, key), condition.key)
        if first != condition.key:
            # Access Analyzer, "Error – Duplicate keys with different case".
            add(
                FindingType.ERROR,
                "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                "The condition key appears more than once with different capitalization in the same condition "
                "block. Remove the duplicate condition keys.",
                where,
            )
        prefix = operator.set_operator
        if prefix is SetOperator.FOR_ALL_VALUES and key in KEY_FAMILIES:
            add(
                FindingType.SECURITY_WARNING,
                "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                f"Using ForAllValues qualifier with the single-valued condition key {condition.key} can be overly "
                "permissive. We recommend that you remove ForAllValues:.",
                where,
            )
        elif prefix is SetOperator.FOR_ALL_VALUES and allow:
            add(
                FindingType.SECURITY_WARNING,
                "ALLOW_WITH_FOR_ALL_VALUES",
                f"ForAllValues with Allow is true when {condition.key} is missing or empty. We recommend that you "
                "add a Null condition for the key, or use ForAnyValue.",
                where,
            )
        if prefix is SetOperator.FOR_ANY_VALUE and key in KEY_FAMILIES:
            add(
                FindingType.WARNING,
                "FORANYVALUE_WITH_SINGLE_VALUED_KEY",
                f"{condition.operator} uses a set operator on the single-valued key {condition.key}. We recommend "
                "that you remove ForAnyValue:.",
                where,
            )
        family = operator.base.family
        if prefix is None and key in MULTIVALUED_KEYS and family is not Family.NULL:
            add(
                FindingType.WARNING,
                "MISSING_SET_OPERATOR",
                f"{condition.key} is multivalued: a plain {condition.operator} never matches a request that "
                "carries it. Use ForAnyValue: or ForAllValues:.",
                where,
            )
        wanted = KEY_FAMILIES.get(key)
        if wanted is not None and family not in (wanted, Family.NULL) and family not in _COMPATIBLE.get(wanted, ()):
            # Access Analyzer, "General Warning – Type mismatch" (its wording).
            add(
                FindingType.WARNING,
                "TYPE_MISMATCH",
                f"Use the operator type {wanted.value} instead of operator {condition.operator} for the condition "
                f"key {condition.key}.",
                where,
            )
        for position, text in enumerate(condition.values):
            here = condition_path(statement, condition, index(position))
            if family is Family.BOOL and text.lower() not in ("true", "false"):
                add(
                    FindingType.WARNING,
                    "TYPE_MISMATCH_BOOLEAN",
                    f"Add a valid Boolean value (true or false) for the condition operator {condition.operator}.",
                    here,
                )
            if family is Family.STRING and not operator.base.wildcards and _has_wildcard(text):
                add(
                    FindingType.WARNING,
                    "WILDCARD_WITHOUT_LIKE_OPERATOR",
                    "Your condition value includes a * or ? character. If you meant to use a wildcard (*, ?), "
                    "update the condition operator to include Like.",
                    here,
                )
        reason = _never_matches(statement, condition)
        if reason is not None:
            add(FindingType.WARNING, "CONDITION_NEVER_MATCHES", reason, where)
    return found


def _has_wildcard(text: str) -> bool:
    # ${*} and ${?} are escapes for a literal * and ?, and variables may hold anything: leave those alone.
    return "${" not in text and ("*" in text or "?" in text)


def _never_matches(statement: Statement, condition: Condition) -> str | None:
    """Why ``condition`` can never be true, for the cases kmsd recognises; None otherwise.

    Only plain, positive operators (no set operator, no ``...IfExists``, not
    negated) are judged, since those are false when the key is missing:

    - ``Null`` ``true`` on the same key in the same statement: the key must
      be missing, and then the other operator is false;
    - ``NumericLessThan`` 0 or less (``...Equals`` below 0) on a key that
      counts days or seconds;
    - ``DateLessThan`` the epoch or earlier (``...Equals`` before it) on the
      request's time or a session's issue time.
    """
    operator = parse_operator(condition.operator)
    if operator is None or operator.set_operator is not None or operator.if_exists or operator.base.negated:
        return None
    base = operator.base
    key = condition.key.lower()
    if base.family is not Family.NULL:
        for other in statement.conditions:
            if other.operator == "Null" and other.key.lower() == key and all(v.lower() == "true" for v in other.values):
                return (
                    f"The condition requires {condition.key} to be absent (Null true) and also tests it with "
                    f"{condition.operator}, which is false for an absent key: the statement never applies."
                )
    if base.comparison not in (Comparison.LESS, Comparison.LESS_EQUAL):
        return None
    strict = base.comparison is Comparison.LESS
    if base.family is Family.NUMERIC and key in _COUNT_KEYS:
        numbers = [parse_number(text) for text in condition.values]
        if all(number is not None and (number <= 0 if strict else number < 0) for number in numbers):
            return f"{condition.key} is never negative, so {condition.operator} {_values(condition)} never matches."
    if base.family is Family.DATE and key in _TIME_KEYS:
        moments = [parse_date(text) for text in condition.values]
        if all(moment is not None and (moment <= 0 if strict else moment < 0) for moment in moments):
            return (
                f"{condition.key} is never earlier than 1970-01-01T00:00:00Z, so {condition.operator} "
                f"{_values(condition)} never matches."
            )
    return None


def _values(condition: Condition) -> str:
    return ", ".join(condition.values)
