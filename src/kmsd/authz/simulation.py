"""The KMS-aware half of IAM's policy simulator: a KMS permission decided exactly as a live call would be.

:mod:`kmsd.iam.simulation` answers SimulatePrincipalPolicy and
SimulateCustomPolicy; for a ``kms:`` action (and no ``ResourcePolicy`` in the
request) it asks :class:`KmsKeySimulator`, which the composition root
injects, whenever the resource is what the live server would check that
permission against: the ARN of an existing key for a permission on a key,
``*`` or an alias ARN for one decided by identity policies alone (CreateKey,
ListAliases, the alias half of CreateAlias).  The question goes to the live
authorizer (:class:`~kmsd.authz.authorizer.KmsAuthorizer`): it gathers the
facts of the permission from the store (the key's policy, its grants, its
aliases and tags, the request context with every ``kms:*`` and ``aws:*`` key
the live server sets) with the simulated policies in place of the
principal's stored ones, and :func:`~kmsd.authz.decide.decide_permission`
decides.  The simulation's ``ContextEntries`` replace or add condition keys,
as ``kmsd authz explain --context`` does.  The few parts of the decision that
read request members rather than condition keys (a grant's encryption
context constraint, the operations a grant may pass on) get them from the
keys that stand for them: ``kms:EncryptionContext:<key>`` entries form the
request's encryption context, ``kms:GrantOperations`` its ``Operations``.
So the simulated decision is the live decision of the same caller, action
and context.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kmsd.authz.authorizer import KmsAuthorizer, KmsCall, NamedKey
from kmsd.authz.decide import CheckResult, decide_permission
from kmsd.authz.permissions import PERMISSIONS, OperationPermissions, Permission, PolicySource, Target
from kmsd.clock import Clock
from kmsd.iam.identity_policies import IdentityPolicySet
from kmsd.iam.key_simulation import KeySimulation
from kmsd.iam.principal import Caller, Principal
from kmsd.policy import Outcome
from kmsd.store.base import Store
from kmsd.store.models import KeyRecord

_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/([0-9a-fA-F-]{36}|mrk-[0-9a-f]{32})")
_ALIAS_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):alias/.+")
_ENCRYPTION_CONTEXT = "kms:encryptioncontext:"
_DEFAULT_REGION = "us-east-1"


class KmsKeySimulator:
    """Decides simulated KMS permissions with the live authorizer, reading the store afresh each time."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def simulate_key(
        self,
        principal: Principal,
        identity: IdentityPolicySet,
        action: str,
        resource: str,
        keys: Mapping[str, str | Sequence[str]],
    ) -> KeySimulation | None:
        target = self._target(action, resource, keys)
        if target is None:
            return None
        key, region, row, permission = target
        params = _members(row, keys)
        caller = Caller(principal=principal, region=region, request_id="kmsd-simulation", source_ip="")
        # Only the permission's own key: whether ReEncrypt's two keys are one (kms:ReEncryptOnSameKey) is the
        # simulation's to say in its ContextEntries, as the ciphertext that would tell is not part of it.
        targets = {permission.target: NamedKey(key)} if key is not None else {}
        alias_arn = resource if permission.target is Target.ALIAS else None
        call = KmsCall(row.operation, caller, params, targets, alias_arn, overrides=keys)
        # A fresh authorizer: its caches start empty, so the simulation reads what the store holds now.
        facts = KmsAuthorizer(self.store, self.clock).gather_permission(call, row, permission)
        if facts.context is None and not identity.is_root:
            return None  # the store's principal is the root user, the simulated one is not: nothing to decide
        result = decide_permission(caller, row, params, facts._replace(identity=identity))
        decision = result.decision
        if result.allowed:
            outcome = Outcome.ALLOW
        elif decision is not None and decision.outcome is Outcome.EXPLICIT_DENY:
            outcome = Outcome.EXPLICIT_DENY
        else:
            outcome = Outcome.IMPLICIT_DENY
        policy_text = key.policy if key is not None else ""
        return KeySimulation(outcome, decision, facts.key_policy, policy_text, result.grants_matched)

    def check_caller(self, caller: Caller, action: str, resource: str) -> CheckResult | None:
        """Whether ``caller`` -- a live caller, with its own identity policies, session and request context --
        may use ``action`` on ``resource`` now, decided by the live authorizer without acting (the console's
        disabled controls).  None when ``action`` on ``resource`` is not a KMS permission this can decide."""
        target = self._target(action, resource, {"aws:RequestedRegion": caller.region})
        if target is None:
            return None
        key, _, row, permission = target
        targets = {permission.target: NamedKey(key)} if key is not None else {}
        alias_arn = resource if permission.target is Target.ALIAS else None
        call = KmsCall(row.operation, caller, {}, targets, alias_arn)
        return KmsAuthorizer(self.store, self.clock).check(call, row, permission)

    def _target(
        self, action: str, resource: str, keys: Mapping[str, str | Sequence[str]]
    ) -> tuple[KeyRecord | None, str, OperationPermissions, Permission] | None:
        """The key ``resource`` names (None for ``*`` or an alias), the region, and the permission ``action`` is."""
        key_match = _KEY_ARN.fullmatch(resource)
        key: KeyRecord | None = None
        if key_match is not None:
            region, account_id, key_id = key_match.groups()
            key = self.store.get_key(key_id.lower(), region)
            if key is None or key.account_id != account_id:
                return None
            found = permission_for(action, on_key=True)
        elif resource == "*" or _ALIAS_ARN.fullmatch(resource) is not None:
            found = permission_for(action, on_key=False, alias=resource != "*")
            region = resource.split(":")[3] if resource != "*" else _requested_region(keys)
        else:
            return None
        if found is None:
            return None
        row, permission = found
        return key, region, row, permission


def permission_for(action: str, *, on_key: bool, alias: bool = False) -> tuple[OperationPermissions, Permission] | None:
    """The operation and permission ``action`` names: on a key, on an alias, or on ``*``.

    An operation's own permissions are looked at before those a request member adds (CreateKey's
    ``kms:TagResource``), so ``kms:TagResource`` on a key is TagResource's.
    """
    wanted = action.lower()
    # The operation named after the action first: kms:CreateKey is CreateKey's before it is ReplicateKey's.
    own = PERMISSIONS.get(action.partition(":")[2])
    candidates = [row for row in (own, *PERMISSIONS.values()) if row is not None]
    for extra in (False, True):
        for row in candidates:
            permissions = tuple(permission for _, permission in row.when_present) if extra else row.permissions
            for permission in permissions:
                if permission.action.lower() != wanted or permission.source is PolicySource.GRANT:
                    continue
                if on_key and permission.on_key and permission.target is not Target.NEW_KEY:
                    return row, permission
                if not on_key and not permission.on_key and (permission.target is Target.ALIAS) == alias:
                    return row, permission
    return None


def _members(row: OperationPermissions, keys: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
    """The request members the decision reads beyond condition keys, from the keys that stand for them."""
    context = {
        name[len(_ENCRYPTION_CONTEXT) :]: value
        for name, value in keys.items()
        if name.lower().startswith(_ENCRYPTION_CONTEXT) and isinstance(value, str)
    }
    params: dict[str, Any] = {}
    if context:
        for member in ("EncryptionContext", "SourceEncryptionContext", "DestinationEncryptionContext"):
            params[member] = context
        if row.operation == "CreateGrant":
            constraint = _value(keys, "kms:GrantConstraintType")
            params["Constraints"] = {constraint if isinstance(constraint, str) else "EncryptionContextSubset": context}
    operations = _value(keys, "kms:GrantOperations")
    if operations is not None:
        params["Operations"] = [operations] if isinstance(operations, str) else list(operations)
    return params


def _value(keys: Mapping[str, str | Sequence[str]], name: str) -> str | Sequence[str] | None:
    wanted = name.lower()
    return next((value for key, value in keys.items() if key.lower() == wanted), None)


def _requested_region(keys: Mapping[str, str | Sequence[str]]) -> str:
    region = _value(keys, "aws:RequestedRegion")
    return region if isinstance(region, str) else _DEFAULT_REGION
