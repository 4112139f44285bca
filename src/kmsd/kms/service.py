"""The KMS service: one dispatch table from operation name to handler, the authorization of every call, the sweep.

The API layer decodes a request into ``(operation, params, caller)`` and
calls :meth:`KmsService.call`; the handler named in :data:`OPERATIONS` does the
work.  Every call is authorized as AWS authorizes it (:mod:`kmsd.authz`): the
service opens the call's authorization before the handler runs, checks at
once the permissions that need no key (CreateKey, ListKeys, an alias, ...),
lets ``kmsd.kms.resolve`` check the permissions on each key as the handler
looks it up, and refuses to return (or commit) a call whose permissions were
not all checked.  Operations that write run inside one store transaction, so
an operation that fails part-way -- or is refused -- leaves nothing written;
read-only operations (the cryptographic ones above all) run without one, so
they never queue behind writers.  After every write the authorizer's cached
grants and aliases are dropped, so a change is effective for the next request.
:meth:`KmsService.sweep` is the clock-driven half of KMS: it deletes keys
whose deletion window has ended and performs automatic rotations that have
fallen due; the server calls it periodically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kmsd.authz.authorizer import KmsAuthorizer
from kmsd.authz.call_scope import CallAuthorization, authorizing
from kmsd.clock import Clock
from kmsd.crypto import RandomSource, RootKey
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller
from kmsd.kms import aliases, crypto_ops, deletion, grants, key_policies, keys, rotation, tags
from kmsd.kms.context import KmsContext
from kmsd.kms.expiry import KeyDeleted, purge_expired_keys, purge_key
from kmsd.kms.materials import KeyMaterials
from kmsd.store.base import Store

Handler = Callable[[KmsContext, Caller, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    handler: Handler
    writes: bool


OPERATIONS: dict[str, Operation] = {
    # keys
    "CreateKey": Operation(keys.create_key, writes=True),
    "DescribeKey": Operation(keys.describe_key, writes=False),
    "ListKeys": Operation(keys.list_keys, writes=False),
    "EnableKey": Operation(keys.enable_key, writes=True),
    "DisableKey": Operation(keys.disable_key, writes=True),
    "UpdateKeyDescription": Operation(keys.update_key_description, writes=True),
    "ScheduleKeyDeletion": Operation(deletion.schedule_key_deletion, writes=True),
    "CancelKeyDeletion": Operation(deletion.cancel_key_deletion, writes=True),
    # aliases
    "CreateAlias": Operation(aliases.create_alias, writes=True),
    "UpdateAlias": Operation(aliases.update_alias, writes=True),
    "DeleteAlias": Operation(aliases.delete_alias, writes=True),
    "ListAliases": Operation(aliases.list_aliases, writes=False),
    # tags
    "TagResource": Operation(tags.tag_resource, writes=True),
    "UntagResource": Operation(tags.untag_resource, writes=True),
    "ListResourceTags": Operation(tags.list_resource_tags, writes=False),
    # key policies
    "GetKeyPolicy": Operation(key_policies.get_key_policy, writes=False),
    "PutKeyPolicy": Operation(key_policies.put_key_policy, writes=True),
    "ListKeyPolicies": Operation(key_policies.list_key_policies, writes=False),
    # rotation
    "EnableKeyRotation": Operation(rotation.enable_key_rotation, writes=True),
    "DisableKeyRotation": Operation(rotation.disable_key_rotation, writes=True),
    "GetKeyRotationStatus": Operation(rotation.get_key_rotation_status, writes=False),
    "RotateKeyOnDemand": Operation(rotation.rotate_key_on_demand, writes=True),
    "ListKeyRotations": Operation(rotation.list_key_rotations, writes=False),
    # grants
    "CreateGrant": Operation(grants.create_grant, writes=True),
    "ListGrants": Operation(grants.list_grants, writes=False),
    "ListRetirableGrants": Operation(grants.list_retirable_grants, writes=False),
    "RetireGrant": Operation(grants.retire_grant, writes=True),
    "RevokeGrant": Operation(grants.revoke_grant, writes=True),
    # cryptographic operations
    "Encrypt": Operation(crypto_ops.encrypt, writes=False),
    "Decrypt": Operation(crypto_ops.decrypt, writes=False),
    "ReEncrypt": Operation(crypto_ops.re_encrypt, writes=False),
    "GenerateDataKey": Operation(crypto_ops.generate_data_key, writes=False),
    "GenerateDataKeyWithoutPlaintext": Operation(crypto_ops.generate_data_key_without_plaintext, writes=False),
    "GenerateRandom": Operation(crypto_ops.generate_random, writes=False),
}


class KmsService:
    operations: frozenset[str] = frozenset(OPERATIONS)

    def __init__(self, store: Store, root_key: RootKey, clock: Clock, rng: RandomSource) -> None:
        materials = KeyMaterials(store, root_key, rng, clock)
        self.authorizer = KmsAuthorizer(store, clock)
        self.context = KmsContext(
            store=store, root_key=root_key, clock=clock, rng=rng, materials=materials, authorizer=self.authorizer
        )

    def call(
        self, operation: str, params: Mapping[str, Any], caller: Caller, *, via_service: str | None = None
    ) -> dict[str, Any]:
        """Run one KMS operation; every refusal is an ``AwsError`` with AWS's code and message.

        ``via_service`` is the AWS service (``ec2.us-east-1.amazonaws.com``) a trusted front end says
        made the request on the caller's behalf: the value of ``kms:ViaService``.
        """
        entry = OPERATIONS.get(operation)
        if entry is None:
            raise AwsError("UnknownOperationException", f"Unknown operation {operation}")
        scope = CallAuthorization(self.authorizer, operation, caller, params, via_service)
        with authorizing(scope):
            if not entry.writes:
                return self._run(entry, scope, params, caller)
            try:
                with self.context.store.transaction():
                    return self._run(entry, scope, params, caller)
            except KeyDeleted as deleted:
                # The purge done while resolving the key was rolled back with the failed operation.
                purge_key(self.context, deleted.key)
                raise
            finally:
                self.authorizer.invalidate()

    def _run(
        self, entry: Operation, scope: CallAuthorization, params: Mapping[str, Any], caller: Caller
    ) -> dict[str, Any]:
        scope.authorize_keyless()
        result = entry.handler(self.context, caller, params)
        scope.verify_complete()
        return result

    @staticmethod
    def writes(operation: str) -> bool:
        """Whether ``operation`` may write to the store (False for a name that is no operation)."""
        entry = OPERATIONS.get(operation)
        return entry is not None and entry.writes

    def invalidate_caches(self) -> None:
        """Another process or node committed: drop what the authorizer caches (grants, aliases), and the
        unwrapped material if that commit (or any since the last check) purged a key."""
        self.authorizer.invalidate()
        self.context.materials.drop_if_purged_elsewhere()

    def sweep(self) -> None:
        """Delete keys whose deletion window has ended, then perform the automatic rotations that are due.

        It also drops the unwrapped material cached here if a key was purged anywhere, so that a process
        nobody sends requests to does not keep a deleted key's material in memory.
        """
        purge_expired_keys(self.context)
        self.context.materials.drop_if_purged_elsewhere()
        rotation.rotate_due_keys(self.context)
