"""A reference for the evaluator's shortcuts: AWS's evaluation logic applied to every statement a trace matched.

The evaluator stops as soon as a decision is settled; a trace walks every statement.  A decision must
agree with what this module works out from its trace, which the property tests check on generated input.
"""

from __future__ import annotations

from kmsd.policy import AllowVia, Decision, Outcome, PolicyKind, RequestContext, StatementTrace

DENY_ORDER = (PolicyKind.RESOURCE, PolicyKind.IDENTITY, PolicyKind.PERMISSIONS_BOUNDARY, PolicyKind.SESSION)


RANK = {AllowVia.ACCOUNT: 1, AllowVia.ROLE: 2, AllowVia.PRINCIPAL: 3}


WITHOUT_IDENTITY_POLICIES = {"service", "federated", "anonymous"}


Expected = tuple[Outcome, PolicyKind | None, tuple[str, ...], AllowVia | None]


def expected_from_trace(context: RequestContext, kinds: set[PolicyKind], trace: tuple[StatementTrace, ...]) -> Expected:
    """AWS's evaluation logic ("Policy evaluation logic", IAM User Guide) over the statements the trace matched."""
    matched = [entry for entry in trace if entry.matched]
    allows = [entry for entry in matched if entry.effect == "Allow"]
    resource_via: AllowVia | None = None
    for entry in allows:
        if entry.kind is PolicyKind.RESOURCE:
            via = entry.via or AllowVia.PRINCIPAL
            if resource_via is None or RANK[via] > RANK[resource_via]:
                resource_via = via
    denying = [entry for entry in matched if entry.effect == "Deny"]
    if denying:
        kind = next(kind for kind in DENY_ORDER if any(entry.kind is kind for entry in denying))
        statements = tuple(sorted(entry.statement_id for entry in denying))
        return Outcome.EXPLICIT_DENY, kind, statements, resource_via
    allowed_kinds = {entry.kind for entry in allows}
    boundary_ok = PolicyKind.PERMISSIONS_BOUNDARY in allowed_kinds or PolicyKind.PERMISSIONS_BOUNDARY not in kinds
    session_ok = PolicyKind.SESSION in allowed_kinds or PolicyKind.SESSION not in kinds
    limiting = PolicyKind.SESSION if boundary_ok else PolicyKind.PERMISSIONS_BOUNDARY
    identity_allowed = PolicyKind.IDENTITY in allowed_kinds
    identity_effective = identity_allowed and boundary_ok and session_ok
    if context.principal.kind in WITHOUT_IDENTITY_POLICIES:
        allowed, denial = resource_via is not None, PolicyKind.RESOURCE
    elif context.same_account:
        role = resource_via is AllowVia.ROLE
        allowed = resource_via is AllowVia.PRINCIPAL or (role and boundary_ok and session_ok) or identity_effective
        denial = limiting if identity_allowed or role else PolicyKind.IDENTITY
    elif resource_via is None:
        allowed, denial = False, PolicyKind.RESOURCE
    else:
        allowed = identity_effective
        denial = limiting if identity_allowed else PolicyKind.IDENTITY
    if allowed:
        return Outcome.ALLOW, None, tuple(sorted(entry.statement_id for entry in allows)), resource_via
    return Outcome.IMPLICIT_DENY, denial, (), resource_via


def assert_agrees_with_trace(decision: Decision, context: RequestContext, kinds: set[PolicyKind]) -> None:
    outcome, denial_kind, statements, resource_via = expected_from_trace(context, kinds, decision.trace)
    assert decision.outcome is outcome
    assert decision.denial_kind is denial_kind
    assert decision.statements == statements
    assert decision.resource_via is resource_via
    assert decision.kinds[PolicyKind.RESOURCE].allow_via is resource_via
    traced = sorted((entry.statement_id, entry.effect == "Deny") for entry in decision.trace if entry.matched)
    assert sorted((match.statement_id, match.deny) for match in decision.matches) == traced
