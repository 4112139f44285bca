"""The KMS authorizer: whether one KMS call is allowed, by the key policy, IAM policies and grants, as AWS decides.

The rule (AWS KMS Developer Guide, "Authentication and access control",
"Key policies", "Using IAM policies with AWS KMS", "Grants in AWS KMS"; DESIGN.md
"The decision for one KMS call") for each permission the call needs, as
:mod:`kmsd.authz.permissions` lists them:

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

A refusal is :class:`~kmsd.authz.denial.AccessDeniedError` with AWS's
message for the first permission that failed; the decisions behind it are
rendered as JSON only when asked (``kmsd serve --explain-denials``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from kmsd.authz.denial import AccessDeniedError, denial_message
from kmsd.authz.grants import (
    can_retire,
    check_create_grant_subset,
    grant_id_from_token,
    grant_ids_from_tokens,
    is_grant_id,
    matching_grants,
    retire_delegating_accounts,
)
from kmsd.authz.key_facts import KeyFacts
from kmsd.authz.permissions import OperationPermissions, Permission, PolicySource, Target, permissions_for
from kmsd.authz.request_context import CheckFacts, build_request_context, encryption_context_of
from kmsd.clock import Clock
from kmsd.errors import AwsError
from kmsd.iam.identity_policies import IdentityPolicySet, StoredPolicyError, identity_policies_for
from kmsd.iam.principal import Caller, Principal
from kmsd.policy import (
    AllowVia,
    Decision,
    Outcome,
    Policy,
    PolicyKind,
    PolicyValidationError,
    RequestContext,
    evaluate,
    parse_policy,
)
from kmsd.store.base import Store
from kmsd.store.models import GrantRecord, KeyRecord

KEY_POLICY_ID = "key-policy"
LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class NamedKey(NamedTuple):
    """A key a request names, and the alias name it used for it (``kms:RequestAlias``), if any."""

    key: KeyRecord
    request_alias: str | None = None


class KmsCall(NamedTuple):
    """One KMS request as the authorizer sees it: who, which operation, which resources, from where.

    ``keys`` maps each key target of the operation to the key it resolved to;
    ``alias_arn`` is the alias of an alias operation; ``overrides`` replace
    condition keys of the request context (``kmsd authz explain --context``).
    A named tuple rather than a dataclass: one or more are built per call.
    """

    operation: str
    caller: Caller
    params: Mapping[str, Any] = _EMPTY
    keys: Mapping[Target, NamedKey] = _EMPTY
    alias_arn: str | None = None
    via_service: str | None = None
    overrides: Mapping[str, str | Sequence[str]] = _EMPTY


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


def required_permissions(row: OperationPermissions, params: Mapping[str, Any]) -> tuple[Permission, ...]:
    """The permissions a request needs: the operation's, plus those its members add (CreateKey's Tags)."""
    if not row.when_present:
        return row.permissions
    extra = tuple(permission for member, permission in row.when_present if params.get(member))
    return row.permissions + extra


class KmsAuthorizer:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.key_facts = KeyFacts(store)

    def invalidate(self) -> None:
        """Drop cached grants and aliases (a KMS write happened, or another process committed)."""
        self.key_facts.invalidate()

    def authorize(self, call: KmsCall) -> None:
        """Allow ``call`` or raise AWS's AccessDeniedException for the first permission that fails."""
        row = permissions_for(call.operation)
        tokens = call.params.get("GrantTokens")
        if tokens:
            # A malformed grant token fails the request whatever else would allow it.
            grant_ids_from_tokens(tokens)
        checked: list[CheckResult] = []
        for permission in required_permissions(row, call.params):
            result = self.check(call, row, permission)
            checked.append(result)
            if not result.allowed:
                raise AccessDeniedError(result.message(call.caller.principal.arn), lambda: explanation(call, checked))

    def evaluate_call(self, call: KmsCall) -> list[CheckResult]:
        """Every permission of ``call`` with its answer, none skipped (for explaining)."""
        row = permissions_for(call.operation)
        return [self.check(call, row, permission) for permission in required_permissions(row, call.params)]

    def check_lockout(self, caller: Caller, key: KeyRecord, via_service: str | None = None) -> None:
        """The key policy lockout safety check, for CreateKey and PutKeyPolicy with ``key.policy`` the new policy.

        CreateKey and PutKeyPolicy, "Policy": "If you don't set BypassPolicyLockoutSafetyCheck to
        true, the key policy must allow the principal that is making the ... request to make a
        subsequent PutKeyPolicy request on the KMS key."  The check asks exactly that question, with
        the caller's identity policies as they are now.
        """
        row = permissions_for("PutKeyPolicy")
        call = KmsCall("PutKeyPolicy", caller, keys={Target.KEY: NamedKey(key)}, via_service=via_service)
        if not self.check(call, row, row.permissions[0]).allowed:
            raise AwsError("MalformedPolicyDocumentException", LOCKOUT_MESSAGE)

    # --- one permission ---------------------------------------------------------------------------

    def check(self, call: KmsCall, row: OperationPermissions, permission: Permission) -> CheckResult:
        """Decide one permission of ``call``."""
        if permission.source is PolicySource.GRANT:
            return self._retire_check(call, row, permission)
        if permission.on_key:
            named = call.keys.get(permission.target)
            if named is None:
                # The service resolves every key an operation names before asking; fail closed if it did not.
                raise AwsError("KMSInternalException", "", 500)
            resource = named.key.arn
        else:
            resource, named = self._resource(call, permission)
        principal = call.caller.principal
        identity = self._identity(principal)
        if (
            permission.source is PolicySource.IAM_POLICY
            and identity.is_root
            and _in_account(resource, principal.account_id)
        ):
            # IAM: the root user may do anything in its own account; no policy of a resource applies.
            return CheckResult(permission, resource, True, basis=Basis.ROOT)
        if named is not None:
            key: KeyRecord | None = named.key
            aliases = self.key_facts.aliases(named.key.account_id, named.key.region, named.key.key_id)
            request_alias = named.request_alias
        else:
            key, aliases, request_alias = None, (), None
        # Positional, in field order: a NamedTuple binds keywords at several times the cost, on every check.
        facts = CheckFacts(
            call.caller,
            call.params,
            resource,
            key,
            aliases,
            request_alias,
            call.via_service,
            _same_key(call) if "kms:ReEncryptOnSameKey" in row.condition_keys else None,
        )
        context = build_request_context(row, permission, facts, self.clock, call.overrides)
        if permission.source is PolicySource.IAM_POLICY:
            decision = evaluate(context, identity.policies)
            if decision.allowed:
                return CheckResult(permission, resource, True, "", Basis.IAM_POLICY, decision)
            return CheckResult(permission, resource, False, decision.denial_reason(permission.action), None, decision)
        if key is None:
            raise AwsError("KMSInternalException", "", 500)
        return self._key_check(
            call, row, permission, resource, key, identity, evaluate_with_key(context, key, identity)
        )

    def _key_check(
        self,
        call: KmsCall,
        row: OperationPermissions,
        permission: Permission,
        resource: str,
        key: KeyRecord,
        identity: IdentityPolicySet,
        decision: Decision,
    ) -> CheckResult:
        principal = call.caller.principal
        action = permission.action
        if not row.cross_account and key.account_id != principal.account_id:
            # Permissions reference, "Cross-account use": "If you give a principal in a different account a
            # permission that cannot be used cross-account, the permission is not effective."
            return CheckResult(permission, resource, False, _no_resource_policy(action), None, decision)
        if decision.outcome is Outcome.EXPLICIT_DENY:
            return CheckResult(permission, resource, False, decision.denial_reason(action), None, decision)
        if identity.is_root and decision.allowed:
            # The root user has no identity policies: only the key policy can have allowed it.
            return CheckResult(permission, resource, True, "", Basis.KEY_POLICY, decision)
        via = resource_allow_via(decision)
        if via is not None and (identity.is_root or decision.allowed):
            basis = Basis.DELEGATION if via is AllowVia.ACCOUNT and not identity.is_root else Basis.KEY_POLICY
            return CheckResult(permission, resource, True, "", basis, decision)
        considered: tuple[GrantRecord, ...] = ()
        if permission.grant_operation is not None:
            considered = self._grants(call, key)
            context = encryption_context_of(row, permission, call.params)
            matched = matching_grants(considered, principal, permission.grant_operation, context)
            if matched and self._grant_may_create(permission, matched, call.params):
                ids = tuple(grant.grant_id for grant in matched)
                return CheckResult(permission, resource, True, "", Basis.GRANT, decision, considered, ids)
        reason = decision.denial_reason(action) if via is not None else _no_resource_policy(action)
        return CheckResult(permission, resource, False, reason, None, decision, considered)

    def _retire_check(self, call: KmsCall, row: OperationPermissions, permission: Permission) -> CheckResult:
        """RetireGrant: "Permission to retire a grant is determined primarily by the grant."

        "Retiring and revoking grants": the grant's retiring principal, its grantee when the grant
        allows RetireGrant, and the account that created it may retire it, without any policy; that
        account (and an account named as retiring principal) can delegate the permission to its IAM
        principals with ``kms:RetireGrant`` in an identity policy, which is "not effective in a key
        policy"; and "to deny permission to retire a grant, you can use a Deny action with the
        kms:RetireGrant permission in your IAM policies".  A grant that cannot be found is left to
        the handler, which answers NotFoundException or InvalidGrantTokenException.
        """
        grant = self._grant_to_retire(call.params)
        if grant is None:
            return CheckResult(permission, "*", True, basis=Basis.DECIDED_BY_GRANT)
        principal = call.caller.principal
        key = self.store.get_key(grant.key_id)
        resource = key.arn if key is not None else "*"
        action = permission.action
        named = can_retire(grant, principal)
        if not named and principal.account_id not in retire_delegating_accounts(grant):
            return CheckResult(
                permission, resource, False, f"because no resource-based policy allows the {action} action"
            )
        identity = self._identity(principal)
        if identity.is_root:
            return CheckResult(permission, resource, True, basis=Basis.DECIDED_BY_GRANT if named else Basis.ROOT)
        facts = CheckFacts(call.caller, call.params, resource, key, via_service=call.via_service)
        context = build_request_context(row, permission, facts, self.clock, call.overrides)
        decision = evaluate(context, identity.policies)
        if decision.outcome is Outcome.EXPLICIT_DENY or not (named or decision.allowed):
            return CheckResult(permission, resource, False, decision.denial_reason(action), None, decision)
        basis = Basis.DECIDED_BY_GRANT if named else Basis.IAM_POLICY
        return CheckResult(permission, resource, True, basis=basis, decision=decision)

    def _grant_to_retire(self, params: Mapping[str, Any]) -> GrantRecord | None:
        token, grant_id = params.get("GrantToken"), params.get("GrantId")
        wanted = grant_id_from_token(str(token)) if token is not None else grant_id
        return self.store.get_grant(str(wanted)) if isinstance(wanted, str) and is_grant_id(wanted) else None

    @staticmethod
    def _grant_may_create(permission: Permission, matched: Sequence[GrantRecord], params: Mapping[str, Any]) -> bool:
        if permission.grant_operation != "CreateGrant":
            return True
        # "Granting CreateGrant permission": a grantee that gets CreateGrant from a grant can only create
        # grants for some or all of the parent grant's operations, with constraints at least as strict.
        return check_create_grant_subset(matched, params.get("Operations") or (), params.get("Constraints"))

    def _grants(self, call: KmsCall, key: KeyRecord) -> tuple[GrantRecord, ...]:
        """The key's grants, and any grant a GrantToken of the request names (usable at once, as in AWS)."""
        grants = self.key_facts.grants(key.key_id)
        tokens = call.params.get("GrantTokens")
        if not tokens:
            return grants
        known = {grant.grant_id for grant in grants}
        extra = []
        for grant_id in grant_ids_from_tokens(tokens):
            if grant_id in known:
                continue
            grant = self.store.get_grant(grant_id)
            if grant is not None and grant.key_id == key.key_id:
                extra.append(grant)
                known.add(grant_id)
        return grants + tuple(extra)

    def _identity(self, principal: Principal) -> IdentityPolicySet:
        try:
            return identity_policies_for(self, principal)
        except StoredPolicyError:
            # Fail closed, and say nothing about the stored document to the caller.
            raise AwsError("KMSInternalException", "", 500) from None

    @staticmethod
    def _resource(call: KmsCall, permission: Permission) -> tuple[str, NamedKey | None]:
        target = permission.target
        if permission.on_key:
            named = call.keys.get(target)
            if named is None:
                # The service resolves every key an operation names before asking; fail closed if it did not.
                raise AwsError("KMSInternalException", "", 500)
            return named.key.arn, named
        if target is Target.ALIAS:
            if call.alias_arn is None:
                raise AwsError("KMSInternalException", "", 500)
            return call.alias_arn, None
        if target is Target.RETIRING_PRINCIPAL:
            return str(call.params.get("RetiringPrincipal") or "*"), None
        return "*", None


# Compiled key policies by document text: a dictionary hit costs less than the parser's hash of the text.
_key_policies: dict[str, Policy] = {}
_KEY_POLICY_CACHE_LIMIT = 4096


# How directly an allowing key-policy statement names the caller; the most direct one counts.
def key_policy_of(key: KeyRecord) -> Policy:
    """The key's policy, compiled; a stored policy that no longer parses fails closed."""
    found = _key_policies.get(key.policy)
    if found is not None:
        return found
    try:
        policy = parse_policy(key.policy, PolicyKind.RESOURCE, KEY_POLICY_ID)
    except PolicyValidationError:
        raise AwsError("KMSInternalException", "", 500) from None
    if len(_key_policies) >= _KEY_POLICY_CACHE_LIMIT:
        _key_policies.clear()
    _key_policies[key.policy] = policy
    return policy


# id of a request context -> (that context, the key policy, the identity policies, the decision).  Contexts are
# shared by requests that would build equal ones (kmsd.authz.request_context), and a decision depends on
# nothing but the context and the policies, so an equal request under the same policies reuses it; the
# entry holds what it names by id, and a hit is checked by identity.
_decisions: dict[int, tuple[RequestContext, Policy, IdentityPolicySet, Decision]] = {}
_DECISION_CACHE_LIMIT = 10_000


def evaluate_with_key(context: RequestContext, key: KeyRecord, identity: IdentityPolicySet) -> Decision:
    """Evaluate the key policy together with the caller's identity, boundary and session policies."""
    policy = key_policy_of(key)
    found = _decisions.get(id(context))
    if found is not None and found[0] is context and found[1] is policy and found[2] is identity:
        return found[3]
    decision = evaluate(context, (policy, *identity.policies))
    if len(_decisions) >= _DECISION_CACHE_LIMIT:
        _decisions.clear()
    _decisions[id(context)] = (context, policy, identity, decision)
    return decision


def resource_allow_via(decision: Decision) -> AllowVia | None:
    """How the key policy's allowing statements name the caller (the caller itself, its role, its account).

    The most direct wins; the engine answers without listing every match, which
    keeps this off the full-evaluation path on every call.
    """
    return decision.resource_via


def explanation(call: KmsCall, checked: Sequence[CheckResult]) -> dict[str, Any]:
    """The machine-readable account of a decision: each permission checked, its policies, statements and grants."""
    denied = next((result for result in checked if not result.allowed), None)
    return {
        "operation": call.operation,
        "principal": call.caller.principal.arn,
        "decision": "Allow" if denied is None else "Deny",
        "checks": [result.to_json() for result in checked],
    }


def _no_resource_policy(action: str) -> str:
    return f"because no resource-based policy allows the {action} action"


def _same_key(call: KmsCall) -> bool | None:
    source, destination = call.keys.get(Target.SOURCE_KEY), call.keys.get(Target.DESTINATION_KEY)
    if source is None or destination is None:
        return None
    return source.key.key_id == destination.key.key_id


def _in_account(resource: str, account_id: str) -> bool:
    """Whether ``resource`` is ``*`` or an ARN of ``account_id``."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[4] == account_id
