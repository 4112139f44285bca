"""The decision on one KMS call: a pure function of the facts gathered for it, with no store, clock or I/O.

The rule (AWS KMS Developer Guide, "Authentication and access control",
"Key policies", "Using IAM policies with AWS KMS", "Grants in AWS KMS"; the
decision rule of docs/architecture.md), for each permission the call needs,
as :mod:`kmsd.authz.permissions` lists them, in that order:

1. An applicable explicit ``Deny`` in the key policy, the caller's identity
   policies, its permissions boundary or its session policies refuses
   ("with an explicit deny in a|an <kind> policy"); grants never override it.
2. For a permission the key policy decides, the key policy is the gate: the
   call is allowed when the key policy allows the caller itself (its user,
   role or session ARN, or ``"*"``), or when it allows the caller's account
   (``arn:aws:iam::ACCOUNT:root`` or ``"ACCOUNT"``, the "enable IAM policies"
   statement) and an identity policy of the caller allows too, within its
   permissions boundary and session policies.  An identity policy alone
   never reaches a key whose policy does not name the caller or its account
   ("because no resource-based policy allows the <action> action").
   Across accounts the key policy must allow the other account (or the
   principal) and that account's identity policies must allow the caller.
3. Otherwise a grant on the key whose grantee is the caller and whose
   operations include the permission allows it, under the grant's
   encryption-context constraint; a grant that allows CreateGrant allows
   only grants for a subset of its operations with constraints at least as
   strict ("Granting CreateGrant permission").
4. Permissions on no key (CreateKey, ListKeys, ListAliases, GenerateRandom,
   the alias half of alias operations, ...) are decided by identity policies
   alone.

The account's root user has no identity policies, but IAM lets it do
anything in its own account; for KMS that means its "identity" side always
allows, while the key policy still gates it: the default key policy (which
names the account, and so the root user) lets it do everything, and a key
policy that names neither the account nor the root user locks it out.

:func:`decide` stops at the first permission refused, as AWS names only that
one; the :class:`CallDecision` raises AWS's ``AccessDeniedException`` for it,
and renders the checks behind it as JSON only when asked
(``kmsd serve --explain-denials``).  The facts come from
:meth:`kmsd.authz.authorizer.KmsAuthorizer.gather`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from kmsd.authz.denial import AccessDeniedError, denial_message
from kmsd.authz.grants import check_create_grant_subset, matching_grants
from kmsd.authz.permissions import OperationPermissions, Permission, PolicySource
from kmsd.errors import AwsError
from kmsd.iam.identity_policies import IdentityPolicySet
from kmsd.iam.principal import Caller
from kmsd.policy import AllowVia, Decision, Outcome, Policy, RequestContext, evaluate
from kmsd.policy.service_rules import key_policy_gate, no_resource_policy
from kmsd.store.models import GrantRecord, KeyRecord


class Basis(enum.Enum):
    """What allowed a permission."""

    KEY_POLICY = "key policy"  # the key policy named the caller (or, across accounts, its account)
    DELEGATION = "key policy and IAM policy"  # the key policy delegated to the account, an identity policy allowed
    IAM_POLICY = "IAM policy"  # a permission on no key, allowed by identity policies
    ROOT = "root user"  # the account's root user, on its own account's resources that have no policy
    GRANT = "grant"
    DECIDED_BY_GRANT = "decided by the grant"  # RetireGrant: the grant handler decides


class CheckResult(NamedTuple):
    """The answer for one permission of a call."""

    permission: Permission
    resource: str
    allowed: bool
    reason: str = ""  # AWS's ending of the AccessDenied message, for a refusal
    basis: Basis | None = None
    decision: Decision | None = None
    grants_considered: tuple[GrantRecord, ...] = ()
    grants_matched: tuple[str, ...] = ()

    def message(self, principal_arn: str) -> str:
        return denial_message(principal_arn, self.permission.action, self.resource, self.reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.permission.action,
            "resource": self.resource,
            "policy_source": self.permission.source.value,
            "allowed": self.allowed,
            "allowed_by": self.basis.value if self.basis is not None else None,
            "reason": self.reason,
            "policies": self.decision.to_json() if self.decision is not None else None,
            "grants": [
                {
                    "grant_id": grant.grant_id,
                    "grantee_principal": grant.grantee_principal,
                    "operations": list(grant.operations),
                    "matched": grant.grant_id in self.grants_matched,
                }
                for grant in self.grants_considered
            ],
        }


class PermissionFacts(NamedTuple):
    """Everything the decision on one permission reads, gathered before it is made.

    ``context`` is None when no policy needs evaluating: the root user on its
    own account's resources that have no policy, and a RetireGrant whose grant
    does not exist (the handler answers for it).  ``retire`` is set for
    RetireGrant only: whether the grant names the caller, and whether the
    caller's account may delegate the permission.
    """

    permission: Permission
    resource: str
    identity: IdentityPolicySet
    context: RequestContext | None = None
    key: KeyRecord | None = None
    key_policy: Policy | None = None
    grants: tuple[GrantRecord, ...] = ()
    encryption_context: Mapping[str, str] | None = None
    retire: RetireFacts | None = None


class RetireFacts(NamedTuple):
    """RetireGrant: how the grant the request names relates to the caller."""

    named: bool  # the caller is the grant's retiring principal, its grantee (if allowed) or its account
    delegating: bool  # the caller's account may delegate kms:RetireGrant to its IAM principals


class CallFacts(NamedTuple):
    """Everything the decision on one call reads: the call, its operation's row, and each permission's facts."""

    operation: str
    caller: Caller
    params: Mapping[str, Any]
    row: OperationPermissions
    permissions: tuple[PermissionFacts, ...]
    memo: DecisionMemo | None = None


class CallDecision(NamedTuple):
    """The answer for a call: each permission decided, up to and including the first refused."""

    operation: str
    caller: Caller
    results: tuple[CheckResult, ...]
    denied: CheckResult | None

    @property
    def allowed(self) -> bool:
        return self.denied is None

    def enforce(self) -> None:
        """Raise AWS's AccessDeniedException for the refused permission, if any."""
        denied = self.denied
        if denied is not None:
            raise AccessDeniedError(denied.message(self.caller.principal.arn), self.explanation)

    def explanation(self) -> dict[str, Any]:
        """The machine-readable account of the decision: each permission checked, its policies and grants."""
        return {
            "operation": self.operation,
            "principal": self.caller.principal.arn,
            "decision": "Allow" if self.denied is None else "Deny",
            "checks": [result.to_json() for result in self.results],
        }


class DecisionMemo:
    """Policy decisions by request context, so that equal requests under the same policies evaluate once.

    Request contexts are shared by requests that would build equal ones
    (:mod:`kmsd.authz.request_context`), and a decision depends on nothing
    but the context and the policies; an entry holds what it names, and a
    hit is checked by identity.  Owned by the authorizer, beside its other
    caches; a memo is not a fact, so deciding with or without one is the same.
    """

    _LIMIT = 10_000

    def __init__(self) -> None:
        self._entries: dict[int, tuple[RequestContext, Policy, IdentityPolicySet, Decision]] = {}
        # Plain counters for the metrics (kmsd.api.metrics reads them when scraped).
        self.hits = 0
        self.misses = 0

    def evaluate(self, context: RequestContext, policy: Policy, identity: IdentityPolicySet) -> Decision:
        found = self._entries.get(id(context))
        if found is not None and found[0] is context and found[1] is policy and found[2] is identity:
            self.hits += 1
            return found[3]
        self.misses += 1
        decision = evaluate(context, (policy, *identity.policies))
        if len(self._entries) >= self._LIMIT:
            self._entries.clear()
        self._entries[id(context)] = (context, policy, identity, decision)
        return decision


def decide(facts: CallFacts, prior: tuple[CheckResult, ...] = ()) -> CallDecision:
    """Decide every permission of the call in order, stopping at the first refused.

    ``prior`` are the permissions of the same call decided already (those decided before its keys
    were looked up): the decision's account lists them first.
    """
    if len(facts.permissions) == 1:
        # Most calls need one permission: no list to build on the path of every Encrypt.
        result = decide_permission(facts.caller, facts.row, facts.params, facts.permissions[0], facts.memo)
        return CallDecision(facts.operation, facts.caller, (*prior, result), None if result.allowed else result)
    results: list[CheckResult] = list(prior)
    for permission_facts in facts.permissions:
        result = decide_permission(facts.caller, facts.row, facts.params, permission_facts, facts.memo)
        results.append(result)
        if not result.allowed:
            return CallDecision(facts.operation, facts.caller, tuple(results), result)
    return CallDecision(facts.operation, facts.caller, tuple(results), None)


def decide_permission(
    caller: Caller,
    row: OperationPermissions,
    params: Mapping[str, Any],
    facts: PermissionFacts,
    memo: DecisionMemo | None = None,
) -> CheckResult:
    """Decide one permission from its facts."""
    permission, resource, identity, context = facts.permission, facts.resource, facts.identity, facts.context
    if facts.retire is not None or permission.source is PolicySource.GRANT:
        return _retire(permission, resource, identity, context, facts.retire)
    if context is None:
        # IAM: the root user may do anything in its own account; no policy of a resource applies.
        return CheckResult(permission, resource, True, basis=Basis.ROOT)
    if permission.source is PolicySource.IAM_POLICY:
        decision = evaluate(context, identity.policies)
        if decision.allowed:
            return CheckResult(permission, resource, True, "", Basis.IAM_POLICY, decision)
        return CheckResult(permission, resource, False, decision.denial_reason(permission.action), None, decision)
    key, key_policy = facts.key, facts.key_policy
    if key is None or key_policy is None:
        # The gatherer supplies the key of every key permission; fail closed if it did not.
        raise AwsError("KMSInternalException", "", 500)
    if memo is not None:
        decision = memo.evaluate(context, key_policy, identity)
    else:
        decision = evaluate(context, (key_policy, *identity.policies))
    return _key_check(caller, row, params, facts, key, decision)


def _key_check(
    caller: Caller,
    row: OperationPermissions,
    params: Mapping[str, Any],
    facts: PermissionFacts,
    key: KeyRecord,
    decision: Decision,
) -> CheckResult:
    principal = caller.principal
    permission, resource, identity = facts.permission, facts.resource, facts.identity
    action = permission.action
    if not row.cross_account and key.account_id != principal.account_id:
        # Permissions reference, "Cross-account use": "If you give a principal in a different account a
        # permission that cannot be used cross-account, the permission is not effective."
        return CheckResult(permission, resource, False, no_resource_policy(action), None, decision)
    if decision.outcome is Outcome.EXPLICIT_DENY:
        return CheckResult(permission, resource, False, decision.denial_reason(action), None, decision)
    if identity.is_root and decision.allowed:
        # The root user has no identity policies: only the key policy can have allowed it.
        return CheckResult(permission, resource, True, "", Basis.KEY_POLICY, decision)
    # The key policy is the gate (kmsd.policy.service_rules, shared with the simulator and `policy explain`).
    gate = key_policy_gate(decision, action, identity.is_root)
    if gate.allowed:
        basis = Basis.DELEGATION if gate.via is AllowVia.ACCOUNT and not identity.is_root else Basis.KEY_POLICY
        return CheckResult(permission, resource, True, "", basis, decision)
    considered = facts.grants
    if permission.grant_operation is not None:
        matched = matching_grants(considered, principal, permission.grant_operation, facts.encryption_context)
        if matched and _grant_may_create(permission, matched, params):
            ids = tuple(grant.grant_id for grant in matched)
            return CheckResult(permission, resource, True, "", Basis.GRANT, decision, considered, ids)
    return CheckResult(permission, resource, False, gate.reason, None, decision, considered)


def _retire(
    permission: Permission,
    resource: str,
    identity: IdentityPolicySet,
    context: RequestContext | None,
    retire: RetireFacts | None,
) -> CheckResult:
    """RetireGrant: "Permission to retire a grant is determined primarily by the grant."

    "Retiring and revoking grants": the grant's retiring principal, its grantee when the grant
    allows RetireGrant, and the account that created it may retire it, without any policy; that
    account (and an account named as retiring principal) can delegate the permission to its IAM
    principals with ``kms:RetireGrant`` in an identity policy, which is "not effective in a key
    policy"; and "to deny permission to retire a grant, you can use a Deny action with the
    kms:RetireGrant permission in your IAM policies".  A grant that cannot be found is left to
    the handler, which answers NotFoundException or InvalidGrantTokenException.
    """
    if retire is None:
        return CheckResult(permission, resource, True, basis=Basis.DECIDED_BY_GRANT)
    action = permission.action
    if not retire.named and not retire.delegating:
        return CheckResult(permission, resource, False, no_resource_policy(action))
    if identity.is_root or context is None:
        return CheckResult(permission, resource, True, basis=Basis.DECIDED_BY_GRANT if retire.named else Basis.ROOT)
    decision = evaluate(context, identity.policies)
    if decision.outcome is Outcome.EXPLICIT_DENY or not (retire.named or decision.allowed):
        return CheckResult(permission, resource, False, decision.denial_reason(action), None, decision)
    basis = Basis.DECIDED_BY_GRANT if retire.named else Basis.IAM_POLICY
    return CheckResult(permission, resource, True, basis=basis, decision=decision)


def _grant_may_create(permission: Permission, matched: Sequence[GrantRecord], params: Mapping[str, Any]) -> bool:
    if permission.grant_operation != "CreateGrant":
        return True
    # "Granting CreateGrant permission": a grantee that gets CreateGrant from a grant can only create
    # grants for some or all of the parent grant's operations, with constraints at least as strict.
    return check_create_grant_subset(matched, params.get("Operations") or (), params.get("Constraints"))


__all__ = [
    "Basis",
    "CallDecision",
    "CallFacts",
    "CheckResult",
    "DecisionMemo",
    "PermissionFacts",
    "RetireFacts",
    "decide",
    "decide_permission",
]
