"""Why a KMS permission was allowed or refused, as one word of a small fixed vocabulary, noted for the metrics.

The metrics count authorization decisions by outcome and reason
(``kmsd_authorization_decisions_total``).  A label value must come from a
bounded set, so the reason is derived from what the decision already knows
(:class:`~kmsd.authz.decide.Basis` for an allow, the policy kind that denied
for a refusal), never from the request: no ARN, action or statement id.

Allowed: ``key-policy`` (the key policy named the caller), ``identity-policy+key-policy``
(the key policy delegated to the account and an identity policy allowed),
``identity-policy`` (a permission on no key), ``root`` (the root user in its own
account), ``grant``, ``retiring-grant`` (RetireGrant, decided by the grant).
Refused: ``explicit-deny-identity``, ``explicit-deny-key-policy``,
``explicit-deny-boundary``, ``explicit-deny-session-policy``,
``no-identity-policy-allow``, ``boundary``, ``session-policy`` (nothing of that
kind allowed), ``no-key-policy-allow`` (the key policy neither names nor
delegates to the caller, or the permission cannot be used across accounts)
and ``not-retiring-principal``.
"""

from __future__ import annotations

from kmsd.authz.decide import Basis, CallDecision, CheckResult
from kmsd.authz.permissions import PolicySource
from kmsd.call_notes import DecisionOutcome, note_decision
from kmsd.policy import Outcome, PolicyKind

_ALLOWED = {
    Basis.KEY_POLICY: "key-policy",
    Basis.DELEGATION: "identity-policy+key-policy",
    Basis.IAM_POLICY: "identity-policy",
    Basis.ROOT: "root",
    Basis.GRANT: "grant",
    Basis.DECIDED_BY_GRANT: "retiring-grant",
}
_EXPLICIT_DENY = {
    PolicyKind.IDENTITY: "explicit-deny-identity",
    PolicyKind.RESOURCE: "explicit-deny-key-policy",
    PolicyKind.PERMISSIONS_BOUNDARY: "explicit-deny-boundary",
    PolicyKind.SESSION: "explicit-deny-session-policy",
}
_NO_ALLOW = {
    PolicyKind.IDENTITY: "no-identity-policy-allow",
    PolicyKind.RESOURCE: "no-key-policy-allow",
    PolicyKind.PERMISSIONS_BOUNDARY: "boundary",
    PolicyKind.SESSION: "session-policy",
}

REASONS = frozenset((*_ALLOWED.values(), *_EXPLICIT_DENY.values(), *_NO_ALLOW.values(), "not-retiring-principal"))


def reason_of(result: CheckResult) -> str:
    """The reason label of one decided permission."""
    if result.allowed:
        # Every allow names its basis; a missing one would be a bug, counted as the gate that always applies.
        return _ALLOWED[result.basis] if result.basis is not None else "key-policy"
    decision = result.decision
    if decision is not None and decision.outcome is Outcome.EXPLICIT_DENY and decision.denial_kind is not None:
        return _EXPLICIT_DENY[decision.denial_kind]
    if result.permission.source is PolicySource.GRANT:
        return "not-retiring-principal"
    if (
        decision is not None
        and decision.denial_kind is not None
        and result.reason == decision.denial_reason(result.permission.action)
    ):
        return _NO_ALLOW[decision.denial_kind]
    # The key policy's gate: it names neither the caller nor its account, or the permission is not
    # effective across accounts (both read "because no resource-based policy allows ...").
    return "no-key-policy-allow"


def note_call_decision(decision: CallDecision, already_noted: int = 0) -> None:
    """Note each permission of ``decision`` past the first ``already_noted`` (decided and noted earlier)."""
    results = decision.results
    for result in results[already_noted:] if already_noted else results:
        outcome = "allow" if result.allowed else _outcome(result)
        note_decision("kms", result.permission.action, outcome, reason_of(result))


def _outcome(result: CheckResult) -> DecisionOutcome:
    decision = result.decision
    return "explicit-deny" if decision is not None and decision.outcome is Outcome.EXPLICIT_DENY else "implicit-deny"
