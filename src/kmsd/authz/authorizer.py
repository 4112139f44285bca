"""The KMS authorizer: gathers the facts of one call from the store, for the pure decision of :mod:`kmsd.authz.decide`.

For each permission the call needs (:mod:`kmsd.authz.permissions`), in
order, :meth:`KmsAuthorizer.gather` reads what the decision needs: the
resource (the key the service resolved, the alias, ``*``), the caller's
identity policies with its boundary and session policies
(:mod:`kmsd.iam.identity_policies`), the key's compiled key policy, the
aliases that name the key and the request's condition keys (one
:class:`~kmsd.policy.RequestContext`), the key's grants and any grant a
grant token of the request names, and for RetireGrant the grant itself.
:func:`kmsd.authz.decide.decide` then answers without reading anything
else.  The authorizer owns every cache of the decision: grants and aliases
by key (:class:`~kmsd.authz.key_facts.KeyFacts`), compiled key policies and
the decision memo; :meth:`KmsAuthorizer.invalidate` drops them after a KMS
write here or a commit elsewhere.

The lockout safety check of CreateKey and PutKeyPolicy asks the same
question of the new policy (:meth:`KmsAuthorizer.check_lockout`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from kmsd.authz.decide import (
    CallFacts,
    CheckResult,
    DecisionMemo,
    PermissionFacts,
    RetireFacts,
    decide_permission,
)
from kmsd.authz.grants import (
    can_retire,
    grant_id_from_token,
    grant_ids_from_tokens,
    is_grant_id,
    retire_delegating_accounts,
)
from kmsd.authz.key_facts import KeyFacts
from kmsd.authz.permissions import OperationPermissions, Permission, PolicySource, Target, permissions_for
from kmsd.authz.request_context import CheckFacts, build_request_context, encryption_context_of
from kmsd.clock import Clock
from kmsd.errors import AwsError
from kmsd.iam.identity_policies import IdentityPolicySet, StoredPolicyError, identity_policies_for
from kmsd.iam.principal import Caller, Principal
from kmsd.store.base import Store
from kmsd.store.models import GrantRecord, KeyRecord

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


def required_permissions(row: OperationPermissions, params: Mapping[str, Any]) -> tuple[Permission, ...]:
    """The permissions a request needs: the operation's, plus those its members add (CreateKey's Tags)."""
    if not row.when_present:
        return row.permissions
    extra = tuple(permission for member, permission in row.when_present if params.get(member))
    return row.permissions + extra


def split_permissions(
    row: OperationPermissions, params: Mapping[str, Any]
) -> tuple[tuple[Permission, ...], tuple[Permission, ...]]:
    """The request's permissions as (those on what it names without a lookup, those on the keys it names).

    The first are decided before the keys are looked up, as AWS answers them first (a caller refused
    kms:CreateAlias on the alias hears so whether or not the target key exists); the second once the
    keys are known.  Either part keeps the order of :func:`required_permissions`.
    """
    if not row.when_present:
        return row.before_keys, row.on_resolved_keys
    extra = tuple(permission for member, permission in row.when_present if params.get(member))
    before = row.before_keys + tuple(permission for permission in extra if not permission.on_key)
    return before, row.on_resolved_keys + tuple(permission for permission in extra if permission.on_key)


def _internal() -> AwsError:
    return AwsError("KMSInternalException", "", 500)


class KmsAuthorizer:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.key_facts = KeyFacts(store)
        self.memo = DecisionMemo()

    def invalidate(self) -> None:
        """Drop cached grants and aliases (a KMS write happened, or another process committed)."""
        self.key_facts.invalidate()

    def refresh(self, call: KmsCall) -> bool:
        """Read the grants and aliases of the call's keys from the store again; whether any had changed."""
        changed = False
        for named in call.keys.values():
            changed |= self.key_facts.refresh(named.key.account_id, named.key.region, named.key.key_id)
        return changed

    def gather(self, call: KmsCall, permissions: tuple[Permission, ...] | None = None) -> CallFacts:
        """The facts of ``permissions`` of ``call`` (all it needs by default), read from the store, for
        :func:`~kmsd.authz.decide.decide`."""
        row = permissions_for(call.operation)
        required = required_permissions(row, call.params) if permissions is None else permissions
        if not required:
            return CallFacts(call.operation, call.caller, call.params, row, (), self.memo)
        if len(required) == 1:
            # Most operations need one permission: skip the generator on the path of every Encrypt.
            facts: tuple[PermissionFacts, ...] = (self.gather_permission(call, row, required[0]),)
        else:
            facts = tuple([self.gather_permission(call, row, permission) for permission in required])
        return CallFacts(call.operation, call.caller, call.params, row, facts, self.memo)

    def check(self, call: KmsCall, row: OperationPermissions, permission: Permission) -> CheckResult:
        """One permission of ``call``, gathered and decided (``kmsd authz explain``, the lockout check)."""
        return decide_permission(
            call.caller, row, call.params, self.gather_permission(call, row, permission), self.memo
        )

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

    # --- the facts of one permission ----------------------------------------------------------------

    def gather_permission(self, call: KmsCall, row: OperationPermissions, permission: Permission) -> PermissionFacts:
        """What the decision on ``permission`` reads: its resource, the policies, the grants, the request context."""
        if permission.source is PolicySource.GRANT:
            return self._retire_facts(call, row, permission)
        principal = call.caller.principal
        named: NamedKey | None
        if permission.on_key:
            named = call.keys.get(permission.target)
            if named is None:
                # The service resolves every key an operation names before asking; fail closed if it did not.
                raise _internal()
            resource = named.key.arn
        else:
            resource, named = self._resource(call, permission), None
        identity = self._identity(principal)
        if (
            permission.source is PolicySource.IAM_POLICY
            and identity.is_root
            and _in_account(resource, principal.account_id)
        ):
            # IAM: the root user may do anything in its own account; no policy needs evaluating.
            return PermissionFacts(permission, resource, identity)
        if named is not None:
            key: KeyRecord | None = named.key
            aliases = self.key_facts.aliases(named.key.account_id, named.key.region, named.key.key_id)
            request_alias = named.request_alias
        else:
            key, aliases, request_alias = None, (), None
        # Positional, in field order: a NamedTuple binds keywords at several times the cost, on every check.
        check_facts = CheckFacts(
            call.caller,
            call.params,
            resource,
            key,
            aliases,
            request_alias,
            call.via_service,
            _same_key(call) if "kms:ReEncryptOnSameKey" in row.condition_keys else None,
        )
        context = build_request_context(row, permission, check_facts, self.clock, call.overrides)
        if permission.source is PolicySource.IAM_POLICY:
            return PermissionFacts(permission, resource, identity, context)
        if key is None:
            raise _internal()
        grants: tuple[GrantRecord, ...] = ()
        encryption_context = None
        if permission.grant_operation is not None:
            grants = self._grants(call, key)
            if grants:
                # Only a grant's constraint reads the request's encryption context.
                encryption_context = encryption_context_of(row, permission, call.params)
        return PermissionFacts(
            permission,
            resource,
            identity,
            context,
            key,
            self.key_facts.key_policy(key.policy),
            grants,
            encryption_context,
        )

    def _retire_facts(self, call: KmsCall, row: OperationPermissions, permission: Permission) -> PermissionFacts:
        """RetireGrant: the grant the request names, on its key (see :func:`kmsd.authz.decide.decide_permission`)."""
        principal = call.caller.principal
        identity = self._identity(principal)
        grant = self._grant_to_retire(call.params)
        if grant is None:
            # Not found: the handler answers NotFoundException or InvalidGrantTokenException.
            return PermissionFacts(permission, "*", identity)
        key = self.store.get_key(grant.key_id, grant.region)
        resource = key.arn if key is not None else "*"
        retire = RetireFacts(
            named=can_retire(grant, principal),
            delegating=principal.account_id in retire_delegating_accounts(grant),
        )
        if identity.is_root:
            return PermissionFacts(permission, resource, identity, key=key, retire=retire)
        check_facts = CheckFacts(call.caller, call.params, resource, key, via_service=call.via_service)
        context = build_request_context(row, permission, check_facts, self.clock, call.overrides)
        return PermissionFacts(permission, resource, identity, context, key, retire=retire)

    def _grant_to_retire(self, params: Mapping[str, Any]) -> GrantRecord | None:
        token, grant_id = params.get("GrantToken"), params.get("GrantId")
        wanted = grant_id_from_token(str(token)) if token is not None else grant_id
        return self.store.get_grant(str(wanted)) if isinstance(wanted, str) and is_grant_id(wanted) else None

    def _grants(self, call: KmsCall, key: KeyRecord) -> tuple[GrantRecord, ...]:
        """The key's grants, and any grant a GrantToken of the request names (usable at once, as in AWS)."""
        grants = self.key_facts.grants(key.key_id, key.region)
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
            raise _internal() from None

    @staticmethod
    def _resource(call: KmsCall, permission: Permission) -> str:
        target = permission.target
        if target is Target.ALIAS:
            if call.alias_arn is None:
                raise _internal()
            return call.alias_arn
        if target is Target.RETIRING_PRINCIPAL:
            return str(call.params.get("RetiringPrincipal") or "*")
        return "*"


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
