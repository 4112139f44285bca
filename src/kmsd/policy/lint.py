"""The policy linter: a document's text in, IAM Access Analyzer ``ValidatePolicy`` findings out, with positions.

:func:`lint_policy` is what ``kmsd policy check`` runs and what an editor
(the console's policy editor) calls: it parses the text as a policy of one
kind; a document IAM refuses becomes one ERROR finding with AWS's reason and
issue code, located where the parser found the problem
(:class:`~kmsd.policy.errors.PolicyValidationError` carries the path or the
offset); a valid one is reviewed (:func:`kmsd.policy.findings.review`), its
actions checked against the known actions of the services given
(:mod:`kmsd.policy.action_names`), and handed to each extra check the caller
adds (KMS's key policy checks live in :mod:`kmsd.authz.policy_checks`, above
this stdlib-only package).  Every finding is then located in the text
(:mod:`kmsd.policy.locations`) and the list sorted by position.
:meth:`LintReport.to_json` is the ``ValidatePolicy`` response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kmsd.policy.action_names import unknown_actions
from kmsd.policy.errors import PolicyValidationError
from kmsd.policy.findings import Finding, FindingType, review, validate_policy_response
from kmsd.policy.limits import SizeLimit
from kmsd.policy.locations import DocumentMap, LineIndex, Location
from kmsd.policy.model import Policy, PolicyKind
from kmsd.policy.parser import parse_policy

# An extra check: the parsed policy in, findings (with paths into it) out.
PolicyCheck = Callable[[Policy], Iterable[Finding]]


@dataclass(frozen=True)
class LintReport:
    """The findings on one document, located and in document order; ``policy`` is None when it was refused."""

    findings: tuple[Finding, ...]
    policy: Policy | None

    @property
    def refused(self) -> bool:
        return self.policy is None

    def count(self, finding_type: FindingType) -> int:
        return sum(1 for finding in self.findings if finding.finding_type is finding_type)

    def worst(self) -> FindingType | None:
        """The most severe type among the findings, None when there are none."""
        return min((finding.finding_type for finding in self.findings), key=lambda kind: kind.severity, default=None)

    def to_json(self) -> dict[str, Any]:
        """The ``ValidatePolicy`` response: ``{"findings": [...]}``."""
        return validate_policy_response(self.findings)


def lint_policy(
    document: str | bytes,
    kind: PolicyKind,
    *,
    limit: SizeLimit | None = None,
    known_actions: Mapping[str, Iterable[str]] | None = None,
    checks: Sequence[PolicyCheck] = (),
) -> LintReport:
    """Lint ``document`` as a policy of ``kind`` (``limit`` as for :func:`~kmsd.policy.parse_policy`)."""
    if isinstance(document, bytes):
        try:
            text = document.decode("utf-8")
        except UnicodeDecodeError as error:
            refusal = Finding(
                FindingType.ERROR,
                "JSON_SYNTAX_ERROR",
                f"The policy document is not UTF-8 text: byte {error.start} cannot be decoded.",
            )
            return LintReport((refusal,), None)
    else:
        text = document
    try:
        policy = parse_policy(text, kind, max_size=limit)
    except PolicyValidationError as error:
        return LintReport((refusal_finding(error, text),), None)
    mapped = DocumentMap.of(text)
    findings = review(policy, mapped)
    if known_actions:
        findings.extend(unknown_actions(policy, known_actions))
    for check in checks:
        findings.extend(check(policy))
    replaced = {(code, finding.paths[0]) for finding in findings if finding.paths for code in finding.supersedes}
    kept = [
        finding for finding in findings if not finding.paths or (finding.issue_code, finding.paths[0]) not in replaced
    ]
    located = [finding.located(mapped) for finding in kept]
    located.sort(key=_document_order)
    return LintReport(tuple(located), policy)


def refusal_finding(error: PolicyValidationError, text: str) -> Finding:
    """The ERROR finding for a document IAM refuses: AWS's reason, its issue code, where the parser stopped."""
    details = f"{error.message} ({error.detail})" if error.detail else error.message
    code = error.code or "POLICY_REFUSED"
    if error.offset is not None:
        # The text is not JSON (or has a character a key policy may not hold): point at the character.
        lines = LineIndex(text)
        span = lines.span(error.offset, min(error.offset + 1, len(text)))
        return Finding(FindingType.ERROR, code, details, ((),), locations=(Location((), span),))
    mapped = DocumentMap.of(text)
    if mapped is None:
        return Finding(FindingType.ERROR, code, details)
    return Finding(FindingType.ERROR, code, details, (error.path,)).located(mapped)


def _document_order(finding: Finding) -> tuple[int, int]:
    start = finding.locations[0].span.start.offset if finding.locations else -1
    return (start, finding.finding_type.severity)
