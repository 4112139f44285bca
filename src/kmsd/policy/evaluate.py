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
authorizer adds KMS's own rule (the key policy is the gate) from
``Decision.resource_via`` or the per-kind verdicts.

Resource-based policies are evaluated against
:meth:`PolicySetPlan.resource_context`, which leaves out the keys the
request names as IAM-only (``aws:ResourceTag/*`` and ``kms:ResourceAliases``
for KMS); every other kind sees the whole request.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmsd.policy.compiled import CompiledPolicy, compiled_of
from kmsd.policy.context import RequestContext
from kmsd.policy.decision import Decision, Outcome
from kmsd.policy.model import AllowVia, Policy, PolicyKind
from kmsd.policy.plans import PolicySetPlan, holds

_WITHOUT_IDENTITY_POLICIES = frozenset({"service", "federated", "anonymous"})
_RESOURCE = PolicyKind.RESOURCE
_IDENTITY = PolicyKind.IDENTITY
_BOUNDARY = PolicyKind.PERMISSIONS_BOUNDARY
_SESSION = PolicyKind.SESSION
_PRINCIPAL = AllowVia.PRINCIPAL
_ROLE = AllowVia.ROLE
_ACCOUNT = AllowVia.ACCOUNT
_ALLOW = Outcome.ALLOW
_EXPLICIT_DENY = Outcome.EXPLICIT_DENY
_IMPLICIT_DENY = Outcome.IMPLICIT_DENY


def evaluate(context: RequestContext, policies: Sequence[Policy]) -> Decision:
    """Decide ``context`` against ``policies`` (each tagged with its kind) as AWS would.

    Only the questions the outcome needs are asked, in the order that settles
    it soonest; the decision works out the rest if someone reads it.
    """
    principal = context.principal
    if policies:
        # The plan of this policy set for this subject, kept with the first policy's compiled document and
        # keyed by the Policy objects themselves (their ids: a Policy's hash would hash its whole document);
        # the plan holds them, so no other object can take one of those ids while it is kept.
        first = policies[0]
        compiled = first.compiled
        if compiled.__class__ is not CompiledPolicy:
            compiled = compiled_of(first)
        key = (
            context.folded_action,
            context.resource,
            principal.arn,
            principal.account_id,
            principal.kind,
            principal.role_arn,
            *map(id, policies),
        )
        plan = compiled.policy_sets.get(key)
        if not isinstance(plan, PolicySetPlan):
            plan = compiled.keep_policy_set(key, PolicySetPlan(tuple(policies), context))
    else:
        plan = PolicySetPlan((), context)
    same_account = context.same_account
    # What resource-based policies see: the request without its IAM-only keys (usually the context itself).
    seen = plan.resource_context(context) if context.iam_only_keys else context
    for kind, denying in plan.denies:
        if denying(seen if kind is _RESOURCE else context):
            return Decision(_EXPLICIT_DENY, kind, same_account, context, plan)

    # A group is None when no statement answers its question: tested inline, this runs for every request.
    via: AllowVia | None = None
    group = plan.resource_principal
    if group is not None and group(seen):
        via = _PRINCIPAL
    else:
        group = plan.resource_role
        if group is not None and group(seen):
            via = _ROLE
    if same_account and principal.kind not in _WITHOUT_IDENTITY_POLICIES:
        # A resource policy naming the caller itself is not limited by implicit denies elsewhere; naming
        # its role is limited by the permissions boundary and session policy, as identity policies are;
        # naming only the account grants nothing by itself (so whether it does is left until asked).
        if via is _PRINCIPAL:
            return Decision(_ALLOW, None, same_account, context, plan, via, True)
        if via is _ROLE or holds(plan.identity, context):
            limit = _limit(plan, context)
            if limit is None:
                return Decision(_ALLOW, None, same_account, context, plan, via, via is not None)
            return Decision(_IMPLICIT_DENY, limit, same_account, context, plan, via, via is not None)
        return Decision(_IMPLICIT_DENY, _IDENTITY, same_account, context, plan, via, via is not None)

    if via is None and holds(plan.resource_account, seen):
        via = _ACCOUNT
    if via is None:
        # Callers without identity policies, and callers from another account, need the resource policy.
        return Decision(_IMPLICIT_DENY, _RESOURCE, same_account, context, plan, via, True)
    if principal.kind in _WITHOUT_IDENTITY_POLICIES:
        return Decision(_ALLOW, None, same_account, context, plan, via, True)
    # Cross account, the caller's own account must allow it too.
    if holds(plan.identity, context):
        limit = _limit(plan, context)
        if limit is None:
            return Decision(_ALLOW, None, same_account, context, plan, via, True)
        return Decision(_IMPLICIT_DENY, limit, same_account, context, plan, via, True)
    return Decision(_IMPLICIT_DENY, _IDENTITY, same_account, context, plan, via, True)


def _limit(plan: PolicySetPlan, context: RequestContext) -> PolicyKind | None:
    """What keeps an identity-based allow from counting: a boundary, then a session policy, that does not allow.

    "The resulting permissions are the intersection" of identity-based
    policies with every permissions boundary and session policy present.
    """
    if plan.has_boundary and not holds(plan.boundary, context):
        return _BOUNDARY
    if plan.has_session and not holds(plan.session, context):
        return _SESSION
    return None
