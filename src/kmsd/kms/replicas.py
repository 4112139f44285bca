"""Multi-Region replica keys: ReplicateKey, UpdatePrimaryRegion, and what the keys of one set share.

"Multi-Region keys in AWS KMS" (KMS Developer Guide): a replica is a key of
its own in another Region of the same account, with the primary's key id and
key material, and "the same key spec, key usage, key material origin, and
automatic key rotation status"; its key policy, description, tags, aliases,
grants and key state are its own.  kmsd stores each key of a set as a row of
``keys`` under ``(key_id, region)``; the set's material is stored once, by key
id (:mod:`kmsd.store.regional_keys_schema`), so a ciphertext made with any key
of the set decrypts with any other, and ``primary_region`` on every row names
the set's primary.  Rotation is driven by the primary: after it rotates or its
rotation settings change, :func:`sync_replicas` copies the shared properties to
the replicas.

AWS shows a new replica as ``Creating`` and both keys of UpdatePrimaryRegion as
``Updating`` for a few seconds; kmsd completes both within the request, so
those transient states never appear.  A replica of a primary with imported key
material starts ``PendingImport`` and takes only the primary's materials
(AWS's rule); a material deleted from one key of the set stays stored while
another still holds it (:func:`kmsd.kms.imports.remove_material`).  New
imported material enters the set through the primary and is rotated in once
every replica has it (:mod:`kmsd.kms.multi_region_imports`).

Error wordings that AWS does not document and kmsd chose (guessed):
- ReplicateKey on a key that is not a multi-Region primary key:
  UnsupportedOperationException "<arn> is not a multi-Region primary key.";
- ReplicaRegion equal to the primary key's Region: ValidationException
  "The replica Region must differ from the Region of the primary key <arn>.";
- a replica already in ReplicaRegion: AlreadyExistsException
  "A replica of <arn> already exists in <region>.";
- a ReplicaRegion this server does not serve (``kmsd serve --regions``):
  UnsupportedOperationException "KMS is not available in the Region <region>.";
- UpdatePrimaryRegion on a key that is not a multi-Region primary key:
  UnsupportedOperationException "<arn> is not a multi-Region primary key.";
  with its own Region as PrimaryRegion: ValidationException
  "<arn> is already the primary key in <region>.";
  with no replica in PrimaryRegion: NotFoundException "Key '<replica arn>' does not exist";
- rotation operations on a replica: UnsupportedOperationException
  "<arn> is a multi-Region replica key. Manage the rotation of its primary key.".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kmsd.authz.authorizer import NamedKey
from kmsd.authz.default_policy import default_key_policy
from kmsd.authz.permissions import Target
from kmsd.errors import AwsError, ValidationError, not_found
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_policies import check_lockout, validate_key_policy
from kmsd.kms.key_states import require_state
from kmsd.kms.metadata import key_metadata
from kmsd.kms.resolve import Resolved, find_own_key
from kmsd.kms.tags import validate_tags
from kmsd.store.models import KeyRecord


def _unsupported(message: str) -> AwsError:
    return AwsError("UnsupportedOperationException", message)


def _require_primary(key: KeyRecord) -> None:
    if not key.multi_region or key.is_replica:
        raise _unsupported(f"{key.arn} is not a multi-Region primary key.")


def key_set(ctx: KmsContext, key: KeyRecord) -> list[KeyRecord]:
    """Every key of ``key``'s multi-Region set (itself included), ordered by Region."""
    return [member for member in ctx.store.keys_with_id(key.key_id) if member.account_id == key.account_id]


def replicas_of(ctx: KmsContext, primary: KeyRecord) -> list[KeyRecord]:
    """The replica keys of a multi-Region primary key."""
    return [member for member in key_set(ctx, primary) if member.region != primary.region]


def refuse_replica_rotation(key: KeyRecord) -> None:
    """Rotation is a shared property set on the primary key ("Rotating multi-Region keys")."""
    if key.is_replica:
        raise _unsupported(f"{key.arn} is a multi-Region replica key. Manage the rotation of its primary key.")


def sync_replicas(ctx: KmsContext, primary: KeyRecord) -> None:
    """Copy the properties a set shares from its primary key to its replicas (current material, rotation)."""
    if not primary.multi_region or primary.is_replica:
        return
    for replica in replicas_of(ctx, primary):
        synced = replace(
            replica,
            current_material_version=primary.current_material_version,
            rotation_enabled=primary.rotation_enabled,
            rotation_period_days=primary.rotation_period_days,
            next_rotation_date=primary.next_rotation_date,
        )
        if synced != replica:
            ctx.store.update_key(synced)


# --- ReplicateKey ----------------------------------------------------------------------------------


def resolve_replicate_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The primary key (``Target.KEY``) and the replica ReplicateKey would create (``Target.NEW_KEY``).

    The replica is checked for kms:TagResource when the request has Tags, as CreateKey's new key is.
    """
    region = str(params["ReplicaRegion"])
    if not ctx.serves_region(region):
        raise _unsupported(f"KMS is not available in the Region {region}.")
    primary = find_own_key(ctx, caller, str(params["KeyId"]))
    policy = params.get("Policy")
    if policy is None:
        # ReplicateKey "Policy": "If you do not provide a key policy, KMS attaches the default key policy".
        policy_text = default_key_policy(primary.key.account_id)
    else:
        policy_text = str(policy)
        validate_key_policy(ctx, policy_text)
    tags = validate_tags(params.get("Tags") or [])
    key = primary.key
    replica = replace(
        key,
        region=region,
        description=str(params.get("Description") or ""),
        # "If you replicate a multi-Region primary key with imported key material, the replica key is created
        # with no key material."
        key_state="PendingImport" if key.origin == "EXTERNAL" else "Enabled",
        creation_date=ctx.clock.now(),
        policy=policy_text,
        deletion_date=None,
        pending_deletion_window_days=None,
        tags=tags,
        primary_region=key.region,
    )
    return Resolved(params, {Target.KEY: primary, Target.NEW_KEY: NamedKey(replica)})


def replicate_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    primary, replica = resolved.key(), resolved.key(Target.NEW_KEY)
    _require_primary(primary)
    require_state("ReplicateKey", primary)
    if replica.region == primary.region:
        raise ValidationError(f"The replica Region must differ from the Region of the primary key {primary.arn}.")
    if ctx.store.get_key(primary.key_id, replica.region) is not None:
        # "You cannot create more than one replica of a primary key in any Region" (ReplicateKey API reference).
        raise AwsError("AlreadyExistsException", f"A replica of {primary.arn} already exists in {replica.region}.")
    if params.get("Policy") is not None:
        check_lockout(ctx, caller, replica, params, resolved.via_service)
    ctx.store.insert_key(replica)
    if primary.origin == "EXTERNAL":
        _expect_primary_material(ctx, primary, replica)
    return {
        "ReplicaKeyMetadata": key_metadata(ctx, replica),
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": [{"TagKey": name, "TagValue": value} for name, value in replica.tags.items()],
    }


def _expect_primary_material(ctx: KmsContext, primary: KeyRecord, replica: KeyRecord) -> None:
    """The replica of a key of imported material waits for the primary's materials, and accepts no other.

    "If you replicate a multi-Region primary key with imported key material, the replica key is created with no
    key material. You must import the same key material that you imported into the primary key."  The replica
    gets the primary's records of its materials, not imported: ImportKeyMaterial then takes only those
    materials (by digest), and the key is Enabled once all of those in use are imported, as for any key.  A
    material the primary holds pending rotation is expected too: the set rotates to it only once every replica,
    this one included, has it.
    """
    for record in ctx.store.list_imported_materials(primary.key_id, primary.region):
        ctx.store.put_imported_material(
            replace(record, region=replica.region, imported=False, expiration_model=None, valid_to=None)
        )


# --- UpdatePrimaryRegion -----------------------------------------------------------------------------


def resolve_update_primary_region(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The current primary key (``Target.KEY``) and its replica in PrimaryRegion (``Target.REPLICA_KEY``).

    When KeyId names no multi-Region primary key, or PrimaryRegion holds no replica of it, the key itself stands
    in for the replica: the call is then decided on the key alone, and the handler answers the error, so that a
    caller the key refuses learns nothing about the key's set.
    """
    primary = find_own_key(ctx, caller, str(params["KeyId"]))
    key = primary.key
    replica = ctx.store.get_key(key.key_id, str(params["PrimaryRegion"])) if key.multi_region else None
    if replica is None or replica.account_id != key.account_id:
        return Resolved(params, {Target.KEY: primary, Target.REPLICA_KEY: primary})
    return Resolved(params, {Target.KEY: primary, Target.REPLICA_KEY: NamedKey(replica)})


def update_primary_region(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    primary, replica = resolved.key(), resolved.key(Target.REPLICA_KEY)
    _require_primary(primary)
    region = str(params["PrimaryRegion"])
    if region == primary.region:
        raise ValidationError(f"{primary.arn} is already the primary key in {region}.")
    if replica.region != region:
        raise not_found(f"Key '{replace(primary, region=region).arn}' does not exist")
    require_state("UpdatePrimaryRegion", primary)
    require_state("UpdatePrimaryRegion", replica)
    # Every key of the set names its new primary; the shared properties stay what they were (they are equal).
    for member in key_set(ctx, primary):
        ctx.store.update_key(replace(member, primary_region=replica.region))
    return {}
