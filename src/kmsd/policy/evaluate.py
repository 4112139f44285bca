"""AWS's policy evaluation logic over one request and a set of policies of several kinds.

IAM User Guide, "Policy evaluation logic" and "Cross-account policy
evaluation logic":

1. An applicable ``Deny`` in any policy is final (explicit deny).
2. Identity-based allows count only where every permissions boundary and
   session policy present also allows ("the resulting permissions are the
   intersection").
3. Same account: an identity-based allow suffices; so does a resource-based
   allow that names the caller itself (user, role session, ``"*"``), which
   implicit denies elsewhere do not limit; one that names the caller's role is
   limited by the boundary and session policy; one that names only the
   account delegates to the identity-based policies and grants nothing alone.
4. Cross account: the resource-based policy must allow the caller or its
   account, and the caller's own account must allow it as in 2.

Callers without identity policies (services, federated and anonymous
principals) are decided by resource-based policies alone.  The account root
user gets no implicit allow here: a service that gives it one adds it itself
(IAM does; KMS does not, its key policy must name the account).  The KMS
authorizer adds KMS's own rule (the key policy is the gate) from the
per-kind verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmsd.policy.compiled import compiled_of
from kmsd.policy.context import RequestContext
from kmsd.policy.decision import AllowVia, Decision, Outcome, StatementTrace
from kmsd.policy.explain import trace_statements
from kmsd.policy.model import Policy, PolicyKind

# The order AWS lists the policy types it searches for a Deny; the first that denies names the denial.
_DENY_ORDER = (PolicyKind.RESOURCE, PolicyKind.IDENTITY, PolicyKind.PERMISSIONS_BOUNDARY, PolicyKind.SESSION)
_WITHOUT_IDENTITY_POLICIES = frozenset({"service", "federated", "anonymous"})
_RESOURCE = PolicyKind.RESOURCE
_IDENTITY = PolicyKind.IDENTITY
_BOUNDARY = PolicyKind.PERMISSIONS_BOUNDARY
_SESSION = PolicyKind.SESSION
_PRINCIPAL = AllowVia.PRINCIPAL
_ROLE = AllowVia.ROLE


def evaluate(context: RequestContext, policies: Sequence[Policy]) -> Decision:
    """Decide ``context`` against ``policies`` (each tagged with its kind) as AWS would."""
    folded_action = context.folded_action
    present: list[PolicyKind] = []
    for policy in policies:
        if policy.kind not in present:
            present.append(policy.kind)
    has_boundary = _BOUNDARY in present
    # Plain tuples (kind, statement id, deny, via): Decision turns them into StatementMatch when asked.
    matches: list[tuple[PolicyKind, str, bool, AllowVia]] = []
    for policy in policies:
        compiled = compiled_of(policy)
        applied = compiled.for_action(folded_action).applied(context, has_boundary)
        if applied:
            kind = policy.kind
            statement_ids = compiled.statement_ids(policy.policy_id)
            for position, deny, via in applied:
                matches.append((kind, statement_ids[position], deny, via))
    return _decide(context, policies, matches, tuple(present), has_boundary, _SESSION in present)


def _decide(
    context: RequestContext,
    policies: Sequence[Policy],
    matches: list[tuple[PolicyKind, str, bool, AllowVia]],
    present: tuple[PolicyKind, ...],
    has_boundary: bool,
    has_session: bool,
) -> Decision:
    same_account = context.same_account

    def trace() -> tuple[StatementTrace, ...]:
        return trace_statements(context, policies, has_boundary)

    denied = [match for match in matches if match[2]]
    if denied:
        denying = [match[0] for match in denied]
        kind = next(kind for kind in _DENY_ORDER if kind in denying)
        deciding = tuple(sorted(match[1] for match in denied))
        return Decision(Outcome.EXPLICIT_DENY, deciding, kind, same_account, matches, present, trace)

    identity_allowed = boundary_allowed = session_allowed = False
    resource_via: AllowVia | None = None
    for kind, _, _, via in matches:
        if kind is _IDENTITY:
            identity_allowed = True
        elif kind is _RESOURCE:
            # The most direct naming wins: the caller itself, then its role, then its account.
            if resource_via is None or via is _PRINCIPAL or (via is _ROLE and resource_via is not _PRINCIPAL):
                resource_via = via
        elif kind is _BOUNDARY:
            boundary_allowed = True
        else:
            session_allowed = True
    boundary_ok = boundary_allowed or not has_boundary
    session_ok = session_allowed or not has_session
    limiting_kind = _SESSION if boundary_ok else _BOUNDARY
    identity_effective = identity_allowed and boundary_ok and session_ok

    if context.principal.kind in _WITHOUT_IDENTITY_POLICIES:
        allowed = resource_via is not None
        denial_kind = _RESOURCE
    elif same_account:
        allowed = (
            resource_via is _PRINCIPAL or (resource_via is _ROLE and boundary_ok and session_ok) or identity_effective
        )
        limited = identity_allowed or resource_via is _ROLE
        denial_kind = limiting_kind if limited else _IDENTITY
    elif resource_via is None:
        allowed = False
        denial_kind = _RESOURCE
    else:
        allowed = identity_effective
        denial_kind = limiting_kind if identity_allowed else _IDENTITY

    if allowed:
        deciding = tuple(sorted(match[1] for match in matches))
        return Decision(Outcome.ALLOW, deciding, None, same_account, matches, present, trace)
    return Decision(Outcome.IMPLICIT_DENY, (), denial_kind, same_account, matches, present, trace)
