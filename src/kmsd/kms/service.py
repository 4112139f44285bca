"""The KMS service: one table from operation name to its resolver and handler, and every call in three phases.

The API layer decodes a request into ``(operation, params, caller)`` and
calls :meth:`KmsService.call`, which reads top to bottom:

1. **resolve** -- the operation's resolver finds what the request names (the
   key, ReEncrypt's source and destination, an alias and its keys, the key a
   ciphertext names, CreateKey's new key) with AWS's errors, in AWS's order,
   for what it names wrongly; it writes nothing (:mod:`kmsd.kms.resolve`).
   What a request names by name alone (``*``, an alias, a principal, a
   grant) needs no lookup, and AWS answers for it first: its permissions are
   decided before the resolver runs (CreateKey, ListKeys, the alias half of
   alias operations, RetireGrant);
2. **decide** -- the authorizer gathers the facts of the call from the store
   (key policy, identity policies, grants, aliases, condition keys) and one
   pure :func:`~kmsd.authz.decide.decide` allows the call or raises AWS's
   AccessDeniedException (:mod:`kmsd.authz`);
3. **act** -- the handler receives the resolved, allowed keys (only through
   :class:`~kmsd.kms.resolve.Resolved`, so a key it was not given is one it
   cannot reach) and checks their state, answers DryRun, does the crypto and
   the writes.

Operations that write run all three phases inside one store transaction, so
an operation that fails part-way -- or is refused -- leaves nothing written,
and the facts decided on are the ones the writes see; read-only operations
(the cryptographic ones above all) run without one, so they never queue
behind writers.  After every write the authorizer's caches are dropped, so a
change is effective for the next request.  A key whose deletion window has
ended is purged when a call meets it (:class:`~kmsd.kms.expiry.KeyDeleted`).
:meth:`KmsService.sweep` is the clock-driven half of KMS: it deletes keys
whose deletion window has ended and performs automatic rotations that have
fallen due; the server calls it periodically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kmsd.authz.authorizer import KmsAuthorizer, KmsCall, split_permissions
from kmsd.authz.decide import CheckResult, decide
from kmsd.authz.decision_reasons import note_call_decision
from kmsd.authz.grants import grant_ids_from_tokens
from kmsd.authz.permissions import Permission, Target, permissions_for
from kmsd.call_notes import note_resource
from kmsd.clock import Clock
from kmsd.crypto import RandomSource, RootKey
from kmsd.crypto.attestation import TrustRoot
from kmsd.errors import AwsError
from kmsd.hsm import TokenDirectory
from kmsd.iam.principal import Caller
from kmsd.kms import (
    aliases,
    asymmetric_ops,
    crypto_ops,
    custom_key_stores,
    deletion,
    grants,
    kem_ops,
    key_policies,
    keys,
    mac_ops,
    replicas,
    rotation,
    tags,
    token_keys,
)
from kmsd.kms.aws_managed_keys import AwsManagedKeyNeeded, create_aws_managed_key, resolve_describe_key
from kmsd.kms.context import KmsContext
from kmsd.kms.data_key_pairs import (
    generate_data_key_pair,
    generate_data_key_pair_without_plaintext,
    resolve_generate_data_key_pair,
)
from kmsd.kms.expiry import KeyDeleted, MaterialExpired, purge_expired_keys, purge_key
from kmsd.kms.imports import (
    delete_imported_key_material,
    expire_imported_material,
    expire_material_of,
    get_parameters_for_import,
    import_key_material,
)
from kmsd.kms.key_id_forms import check_key_id_forms
from kmsd.kms.key_usage import TRACKED_OPERATIONS, KeyUsageRecorder, Submit, get_key_last_usage
from kmsd.kms.materials import KeyMaterials
from kmsd.kms.recipient import answering, attest
from kmsd.kms.resolve import Resolved, key_of, nothing, own_key_of
from kmsd.kms.token_keys import TOKEN_ORIGINS, TokenCallOffLoop
from kmsd.store.base import Store

# CloudTrail's type of a KMS key in an event's resources.
KEY_RESOURCE_TYPE = "AWS::KMS::Key"

Resolver = Callable[[KmsContext, Caller, Mapping[str, Any]], Resolved]
Handler = Callable[[KmsContext, Caller, Mapping[str, Any], Resolved], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    resolve: Resolver  # finds what the request names; writes nothing
    act: Handler  # acts on the resolved, allowed keys
    writes: bool


OPERATIONS: dict[str, Operation] = {
    # keys
    "CreateKey": Operation(keys.resolve_create_key, keys.create_key, writes=True),
    # DescribeKey is one of the operations AWS allows across accounts: key_of, not own_key_of.
    # A predefined alias/aws/ alias gets its AWS managed key on first DescribeKey (kmsd.kms.aws_managed_keys).
    "DescribeKey": Operation(resolve_describe_key, keys.describe_key, writes=False),
    "ListKeys": Operation(nothing, keys.list_keys, writes=False),
    "EnableKey": Operation(own_key_of, keys.enable_key, writes=True),
    "DisableKey": Operation(own_key_of, keys.disable_key, writes=True),
    "UpdateKeyDescription": Operation(own_key_of, keys.update_key_description, writes=True),
    "ScheduleKeyDeletion": Operation(
        deletion.resolve_schedule_key_deletion, deletion.schedule_key_deletion, writes=True
    ),
    "CancelKeyDeletion": Operation(own_key_of, deletion.cancel_key_deletion, writes=True),
    # aliases
    "CreateAlias": Operation(aliases.resolve_create_alias, aliases.create_alias, writes=True),
    "UpdateAlias": Operation(aliases.resolve_update_alias, aliases.update_alias, writes=True),
    "DeleteAlias": Operation(aliases.resolve_delete_alias, aliases.delete_alias, writes=True),
    "ListAliases": Operation(aliases.resolve_list_aliases, aliases.list_aliases, writes=False),
    # tags
    "TagResource": Operation(own_key_of, tags.tag_resource, writes=True),
    "UntagResource": Operation(own_key_of, tags.untag_resource, writes=True),
    "ListResourceTags": Operation(own_key_of, tags.list_resource_tags, writes=False),
    # key policies
    "GetKeyPolicy": Operation(own_key_of, key_policies.get_key_policy, writes=False),
    "PutKeyPolicy": Operation(own_key_of, key_policies.put_key_policy, writes=True),
    "ListKeyPolicies": Operation(own_key_of, key_policies.list_key_policies, writes=False),
    # rotation
    "EnableKeyRotation": Operation(own_key_of, rotation.enable_key_rotation, writes=True),
    "DisableKeyRotation": Operation(own_key_of, rotation.disable_key_rotation, writes=True),
    # GetKeyRotationStatus is allowed across accounts with a key ARN.
    "GetKeyRotationStatus": Operation(key_of, rotation.get_key_rotation_status, writes=False),
    "RotateKeyOnDemand": Operation(own_key_of, rotation.rotate_key_on_demand, writes=True),
    "ListKeyRotations": Operation(own_key_of, rotation.list_key_rotations, writes=False),
    # grants
    "CreateGrant": Operation(grants.resolve_create_grant, grants.create_grant, writes=True),
    "ListGrants": Operation(grants.resolve_grant_key, grants.list_grants, writes=False),
    "ListRetirableGrants": Operation(nothing, grants.list_retirable_grants, writes=False),
    # RetireGrant is decided by the grant, which the authorizer reads itself.
    "RetireGrant": Operation(nothing, grants.retire_grant, writes=True),
    "RevokeGrant": Operation(grants.resolve_grant_key, grants.revoke_grant, writes=True),
    # cryptographic operations
    "Encrypt": Operation(key_of, crypto_ops.encrypt, writes=False),
    # The five operations that take Recipient answer a Nitro enclave with CiphertextForRecipient (kms/recipient.py).
    "Decrypt": Operation(crypto_ops.resolve_decrypt, answering(crypto_ops.decrypt, "Plaintext"), writes=False),
    "ReEncrypt": Operation(crypto_ops.resolve_re_encrypt, crypto_ops.re_encrypt, writes=False),
    "GenerateDataKey": Operation(
        crypto_ops.resolve_generate_data_key, answering(crypto_ops.generate_data_key, "Plaintext"), writes=False
    ),
    "GenerateDataKeyWithoutPlaintext": Operation(
        crypto_ops.resolve_generate_data_key_without_plaintext,
        crypto_ops.generate_data_key_without_plaintext,
        writes=False,
    ),
    "GenerateRandom": Operation(nothing, answering(crypto_ops.generate_random, "Plaintext"), writes=False),
    # data key pairs (allowed across accounts: key_of)
    "GenerateDataKeyPair": Operation(
        resolve_generate_data_key_pair, answering(generate_data_key_pair, "PrivateKeyPlaintext"), writes=False
    ),
    "GenerateDataKeyPairWithoutPlaintext": Operation(key_of, generate_data_key_pair_without_plaintext, writes=False),
    # asymmetric and HMAC keys (all of them allowed across accounts: key_of)
    "GetPublicKey": Operation(key_of, asymmetric_ops.get_public_key, writes=False),
    "Sign": Operation(key_of, asymmetric_ops.sign, writes=False),
    "Verify": Operation(key_of, asymmetric_ops.verify, writes=False),
    "DeriveSharedSecret": Operation(
        key_of, answering(asymmetric_ops.derive_shared_secret, "SharedSecret"), writes=False
    ),
    "GenerateMac": Operation(key_of, mac_ops.generate_mac, writes=False),
    "VerifyMac": Operation(key_of, mac_ops.verify_mac, writes=False),
    # ML-KEM key encapsulation ("Cross-account use: Yes": key_of)
    "Encapsulate": Operation(key_of, kem_ops.encapsulate, writes=False),
    "Decapsulate": Operation(key_of, kem_ops.decapsulate, writes=False),
    # imported key material (none of them across accounts: own_key_of)
    "GetParametersForImport": Operation(own_key_of, get_parameters_for_import, writes=False),
    "ImportKeyMaterial": Operation(own_key_of, import_key_material, writes=True),
    "DeleteImportedKeyMaterial": Operation(own_key_of, delete_imported_key_material, writes=True),
    # GetKeyLastUsage: "Cross-account use: No".
    "GetKeyLastUsage": Operation(own_key_of, get_key_last_usage, writes=False),
    # custom key stores on PKCS#11 tokens (IAM policies on "*" decide them; "Cross-account use: No")
    "CreateCustomKeyStore": Operation(nothing, custom_key_stores.create_custom_key_store, writes=True),
    "ConnectCustomKeyStore": Operation(nothing, custom_key_stores.connect_custom_key_store, writes=True),
    "DisconnectCustomKeyStore": Operation(nothing, custom_key_stores.disconnect_custom_key_store, writes=True),
    "DescribeCustomKeyStores": Operation(nothing, custom_key_stores.describe_custom_key_stores, writes=False),
    "UpdateCustomKeyStore": Operation(nothing, custom_key_stores.update_custom_key_store, writes=True),
    "DeleteCustomKeyStore": Operation(nothing, custom_key_stores.delete_custom_key_store, writes=True),
    # multi-Region replicas (neither across accounts)
    "ReplicateKey": Operation(replicas.resolve_replicate_key, replicas.replicate_key, writes=True),
    "UpdatePrimaryRegion": Operation(
        replicas.resolve_update_primary_region, replicas.update_primary_region, writes=True
    ),
}


class KmsService:
    operations: frozenset[str] = frozenset(OPERATIONS)

    def __init__(
        self,
        store: Store,
        root_key: RootKey,
        clock: Clock,
        rng: RandomSource,
        *,
        tokens: TokenDirectory | None = None,
        attestation_root: TrustRoot | None = None,
    ) -> None:
        """``tokens``: the PKCS#11 module of custom key stores (``kmsd serve --pkcs11-module``); none by default.
        ``attestation_root``: the root of Recipient's attestation documents (``kmsd serve --attestation-root``)."""
        materials = KeyMaterials(store, root_key, rng, clock)
        self.authorizer = KmsAuthorizer(store, clock)
        self.context = KmsContext(
            store=store,
            root_key=root_key,
            clock=clock,
            rng=rng,
            materials=materials,
            authorizer=self.authorizer,
            tokens=tokens if tokens is not None else TokenDirectory(None),
            # Recipient's attestation documents chain to AWS's Nitro Enclaves root unless the server names another.
            attestation_root=attestation_root or TrustRoot.aws_nitro_enclaves(),
        )
        # The last use of keys (GetKeyLastUsage); the API hands in its store-call thread (record_usage_with).
        self.key_usage = KeyUsageRecorder(store)

    def call(
        self,
        operation: str,
        params: Mapping[str, Any],
        caller: Caller,
        *,
        via_service: str | None = None,
        inline: bool = False,
    ) -> dict[str, Any]:
        """Run one KMS operation; every refusal is an ``AwsError`` with AWS's code and message.

        ``via_service`` is the AWS service (``ec2.us-east-1.amazonaws.com``) a trusted front end says
        made the request on the caller's behalf: the value of ``kms:ViaService``.  ``inline`` says the call
        runs on the server's event loop: one that would wait for an HSM token raises :class:`TokenCallOffLoop`
        before it acts, for the caller to run it again on a thread.
        """
        entry = OPERATIONS.get(operation)
        if entry is None:
            raise AwsError("UnknownOperationException", f"Unknown operation {operation}")
        try:
            return self._call(entry, operation, params, caller, via_service, inline)
        except AwsManagedKeyNeeded as needed:
            # DescribeKey named a predefined alias with no key yet: create the AWS managed key (resolving writes
            # nothing), then describe it.
            with self.context.store.transaction():
                create_aws_managed_key(self.context, needed.account_id, needed.region, needed.alias_name)
            self.authorizer.invalidate()
            return self._call(entry, operation, params, caller, via_service, inline)
        except MaterialExpired as expired:
            # The call met imported material past its ValidTo: delete it (resolving writes nothing; a write
            # operation's transaction has been rolled back), then run the call on the key without it.
            expire_material_of(self.context, expired.key)
            self.authorizer.invalidate()
            return self._call(entry, operation, params, caller, via_service, inline)

    def _call(
        self,
        entry: Operation,
        operation: str,
        params: Mapping[str, Any],
        caller: Caller,
        via_service: str | None,
        inline: bool = False,
    ) -> dict[str, Any]:
        try:
            if not entry.writes:
                return self._run(entry, operation, params, caller, via_service, inline)
            try:
                with self.context.store.transaction():
                    return self._run(entry, operation, params, caller, via_service, inline)
            finally:
                self.authorizer.invalidate()
        except KeyDeleted as deleted:
            # The call met a key whose deletion window has ended; resolving writes nothing, so the key is
            # purged here, in a transaction of its own (a write operation's has been rolled back).
            purge_key(self.context, deleted.key)
            self.authorizer.invalidate()
            raise

    def _run(
        self,
        entry: Operation,
        operation: str,
        params: Mapping[str, Any],
        caller: Caller,
        via_service: str | None,
        inline: bool = False,
    ) -> dict[str, Any]:
        ctx = self.context
        # Each key member must be spelled in a form the operation's API reference accepts, before anything else.
        check_key_id_forms(operation, params)
        # Then Recipient's attestation document, like the request's other members; its condition
        # keys (kms:RecipientAttestation:*) are then part of every decision of the call.
        params = attest(ctx, params)
        tokens = params.get("GrantTokens")
        if tokens:
            # A malformed grant token fails the request whatever else would allow it.
            grant_ids_from_tokens(tokens)
        before_keys, on_keys = split_permissions(permissions_for(operation), params)
        alias_arn = _alias_arn(caller, params)
        # 1. resolve: the keys the request names, with AWS's errors for what it names wrongly.  What it names
        #    by name alone (`*`, an alias, a principal, a grant) needs no lookup, and AWS answers for it
        #    before anything is looked up: its permissions are decided first.
        decided = (
            self._decide(KmsCall(operation, caller, params, alias_arn=alias_arn, via_service=via_service), before_keys)
            if before_keys
            else ()
        )
        resolved = entry.resolve(ctx, caller, params)
        keys = resolved.keys
        # The audit trail lists the keys a call acted on, and records a call on another account's key there too;
        # noted before the decision, so that a denied call names its key as well.  Several keys go in the order
        # of Target (ReEncrypt's source key, then its destination key, as CloudTrail lists them).
        for named in keys.values() if len(keys) < 2 else [keys[target] for target in Target if target in keys]:
            note_resource(named.key.arn, named.key.account_id, KEY_RESOURCE_TYPE)
        if inline and _uses_a_token(operation, resolved):
            # A PKCS#11 token may answer slowly (a network HSM): not on the event loop (kmsd.api.app).
            raise TokenCallOffLoop()
        # 2. decide: the facts of the call, gathered from the store, then one pure decision.
        call = KmsCall(operation, caller, resolved.params, resolved.keys, alias_arn, via_service)
        self._decide(call, on_keys, decided)
        # 3. act: the handler, on the resolved and allowed keys.
        if via_service is not None:
            resolved = resolved._replace(via_service=via_service)
        result = entry.act(ctx, caller, resolved.params, resolved)
        if operation in TRACKED_OPERATIONS:
            used = ((named.key.key_id, named.key.region) for named in resolved.keys.values())
            self.key_usage.note(operation, used, caller.request_id, ctx.clock.now())
        return result

    def _decide(
        self, call: KmsCall, permissions: tuple[Permission, ...], decided: tuple[CheckResult, ...] = ()
    ) -> tuple[CheckResult, ...]:
        """Gather the facts of ``permissions``, decide them (after those ``decided``), raise AWS's denial."""
        if not permissions:
            return decided
        decision = decide(self.authorizer.gather(call, permissions), decided)
        if not decision.allowed and self.authorizer.refresh(call):
            # A grant or alias is usable on every node at once: one made on another node a moment ago may not be
            # in this node's caches yet (its notification is on its way), so a refusal reads them again first.
            # Only refusals pay the reads; an allowed call keeps its cache hits.
            decision = decide(self.authorizer.gather(call, permissions), decided)
        # For the metrics: the permissions decided here, not those decided (and noted) before.
        note_call_decision(decision, len(decided))
        decision.enforce()
        return decision.results

    def serve_regions(self, serves_region: Callable[[str], bool]) -> None:
        """Answer for the Regions ``serves_region`` accepts (the API's ``kmsd serve --regions`` policy)."""
        self.context.serves_region = serves_region

    def record_usage_with(self, submit: Submit) -> None:
        """Write the keys' last-use records through ``submit`` (the API's store-call thread), not inline."""
        self.key_usage.submit = submit

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

    def cache_counts(self) -> dict[str, tuple[int, int]]:
        """(hits, misses) of each cache of KMS and its authorizer so far, by cache, for the metrics."""
        materials, authorizer = self.context.materials, self.authorizer
        counts = {name: (hits, misses) for name, (hits, misses) in authorizer.key_facts.counts.items()}
        counts["key_material"] = (materials.cache_hits, materials.cache_misses)
        counts["decisions"] = (authorizer.memo.hits, authorizer.memo.misses)
        return counts

    def drop_purged_material(self) -> None:
        """Drop the unwrapped material cached here if a key was purged anywhere: the part of :meth:`sweep` a
        worker that does not sweep still runs, so that it keeps no deleted key's material in memory."""
        self.context.materials.drop_if_purged_elsewhere()

    def sweep(self) -> None:
        """Delete keys whose deletion window has ended and imported material whose ValidTo has passed, log out of
        the tokens of custom key stores disconnected elsewhere, then perform the automatic rotations that are due.

        It also drops the unwrapped material cached here if a key was purged anywhere, so that a process
        nobody sends requests to does not keep a deleted key's material in memory.
        """
        purge_expired_keys(self.context)
        expire_imported_material(self.context)
        token_keys.close_disconnected_sessions(self.context)
        self.context.materials.drop_if_purged_elsewhere()
        rotation.rotate_due_keys(self.context)


def _uses_a_token(operation: str, resolved: Resolved) -> bool:
    """Whether the call will talk to a PKCS#11 token: a key of a custom key store, or GenerateRandom from one."""
    if operation == "GenerateRandom":
        return resolved.params.get("CustomKeyStoreId") is not None
    return any(named.key.origin in TOKEN_ORIGINS for named in resolved.keys.values())


def _alias_arn(caller: Caller, params: Mapping[str, Any]) -> str | None:
    """The alias an alias operation acts on: always one of the caller's own account and Region
    ("Cross-account use: No"), spelled as the request spells it."""
    alias_name = params.get("AliasName")
    if alias_name is None:
        return None
    return f"arn:aws:kms:{caller.region}:{caller.principal.account_id}:{alias_name}"
