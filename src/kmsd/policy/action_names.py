"""Warnings for actions that no service defines, with the nearest real name as a suggestion.

IAM accepts any ``service:Name`` in a policy, so a typo (``kms:Encrpt``)
parses, grants nothing and is easy to miss; IAM Access Analyzer reports it
("IAM Access Analyzer policy check reference": *Error – Invalid action*).  The
policy engine does not know which actions exist: the caller passes them in
per service prefix (``kmsd policy check`` reads them from the botocore models
kmsd vendors), and only actions of those services are checked.  A wildcard
is reported only when it matches no known action of its service, because
wildcards are matched at evaluation time and ``kms:Get*`` rightly covers
operations that exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from kmsd.policy.findings import Finding, FindingType
from kmsd.policy.locations import index, statement_path, value
from kmsd.policy.model import Policy
from kmsd.policy.wildcard import compile_tokens, tokens_from_text


def unknown_actions(policy: Policy, known: Mapping[str, Iterable[str]]) -> list[Finding]:
    """An INVALID_ACTION error for each ``Action``/``NotAction`` entry of a known service that names no action of it.

    ``known`` maps a service prefix (``kms``) to its action names (``Encrypt``), in any case.
    """
    by_service = {service.lower(): {name.lower(): name for name in names} for service, names in known.items()}
    findings: list[Finding] = []
    for statement in policy.statements:
        element = "Action" if statement.action is not None else "NotAction"
        for position, pattern in enumerate(statement.action or statement.not_action or ()):
            message = _problem(pattern, by_service)
            if message is not None:
                path = statement_path(statement.index, value(element), index(position))
                findings.append(Finding(FindingType.ERROR, "INVALID_ACTION", message, (path,)))
    return findings


def _problem(pattern: str, by_service: Mapping[str, Mapping[str, str]]) -> str | None:
    service, colon, name = pattern.partition(":")
    names = by_service.get(service.lower())
    if not colon or names is None:
        return None
    folded = name.lower()
    if "*" in folded or "?" in folded:
        # Action names are case-insensitive (IAM User Guide, "Action"): match against the folded names.
        matcher = compile_tokens(tokens_from_text(folded))
        if any(matcher(candidate) for candidate in names):
            return None
        return f"The action {pattern} matches no {service} action."
    if folded in names:
        return None
    close = difflib.get_close_matches(folded, list(names), n=1, cutoff=0.6)
    # Access Analyzer's wording: "The action does not exist. Did you mean ...?"
    hint = f" Did you mean {service}:{names[close[0]]}?" if close else ""
    return f"The action {pattern} does not exist.{hint}"
