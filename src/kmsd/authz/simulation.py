"""The KMS-aware half of IAM's policy simulator: a key permission decided exactly as a live call would be.

:mod:`kmsd.iam.simulation` answers SimulatePrincipalPolicy and
SimulateCustomPolicy; for a resource that is the ARN of an existing KMS key
(and no ``ResourcePolicy`` in the request) it asks :class:`KmsKeySimulator`,
which the composition root injects.  The question goes to the live
authorizer (:class:`~kmsd.authz.authorizer.KmsAuthorizer`): it gathers the
facts of the permission from the store — the key's policy, its grants, its
aliases and tags, the request context with every ``kms:*`` and ``aws:*`` key
the live server sets — with the simulated policies in place of the
principal's stored ones, and :func:`~kmsd.authz.decide.decide_permission`
decides.  The simulation's ``ContextEntries`` replace or add condition keys,
as ``kmsd authz explain --context`` does; ``kms:EncryptionContext:<key>``
entries also form the request's encryption context, which grant constraints
are checked against.  So the simulated decision is the live decision of the
same caller, action and context.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kmsd.authz.authorizer import KmsAuthorizer, KmsCall, NamedKey
from kmsd.authz.decide import decide_permission
from kmsd.authz.permissions import PERMISSIONS, OperationPermissions, Permission, Target
from kmsd.clock import Clock
from kmsd.iam.identity_policies import IdentityPolicySet
from kmsd.iam.key_simulation import KeySimulation
from kmsd.iam.principal import Caller, Principal
from kmsd.policy import Outcome
from kmsd.store.base import Store

_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/([0-9a-fA-F-]{36})")
_ENCRYPTION_CONTEXT = "kms:encryptioncontext:"


class KmsKeySimulator:
    """Decides simulated key permissions with the live authorizer, reading the store afresh each time."""

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
        match = _KEY_ARN.fullmatch(resource)
        if match is None:
            return None
        region, account_id, key_id = match.groups()
        key = self.store.get_key(key_id.lower(), region)
        found = permission_on_key(action)
        if key is None or key.account_id != account_id or found is None:
            return None
        row, permission = found
        encryption_context = {
            name[len(_ENCRYPTION_CONTEXT) :]: value
            for name, value in keys.items()
            if name.lower().startswith(_ENCRYPTION_CONTEXT) and isinstance(value, str)
        }
        params: dict[str, Any] = {"EncryptionContext": encryption_context} if encryption_context else {}
        caller = Caller(principal=principal, region=key.region, request_id="kmsd-simulation", source_ip="")
        targets = {permission.target: NamedKey(key) for permission in row.permissions if permission.on_key}
        call = KmsCall(row.operation, caller, params, targets, overrides=keys)
        # A fresh authorizer: its caches start empty, so the simulation reads what the store holds now.
        authorizer = KmsAuthorizer(self.store, self.clock)
        facts = authorizer.gather_permission(call, row, permission)._replace(identity=identity)
        result = decide_permission(caller, row, params, facts)
        decision = result.decision
        if result.allowed:
            outcome = Outcome.ALLOW
        elif decision is not None and decision.outcome is Outcome.EXPLICIT_DENY:
            outcome = Outcome.EXPLICIT_DENY
        else:
            outcome = Outcome.IMPLICIT_DENY
        return KeySimulation(outcome, decision, facts.key_policy, key.policy, result.grants_matched)


def permission_on_key(action: str) -> tuple[OperationPermissions, Permission] | None:
    """The operation and the permission on a key that ``action`` names (``kms:ReEncryptFrom``: ReEncrypt's source)."""
    wanted = action.lower()
    for row in PERMISSIONS.values():
        for permission in row.permissions + tuple(extra for _, extra in row.when_present):
            if permission.action.lower() == wanted and permission.on_key and permission.target is not Target.ALIAS:
                return row, permission
    return None
