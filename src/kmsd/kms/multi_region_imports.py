"""Rotation of imported key material in a multi-Region set: new material enters through the primary key,
waits until every replica has it, and RotateKeyOnDemand on the primary rotates the whole set.

AWS's rules, as documented (ImportKeyMaterial, RotateKeyOnDemand and DeleteImportedKeyMaterial API
references; RotationsListEntry; "Delete imported key material", KMS Developer Guide):

- "You must import the new key material into the primary Region key. Then you can import the same key
  materials into the replica Region keys. You cannot directly import new key material into the replica
  Region keys."  The primary takes it with ImportType ``NEW_KEY_MATERIAL``, each replica with
  ``EXISTING_KEY_MATERIAL``; kmsd gives every replica a record of the new material, not imported, so that
  a replica accepts exactly that material (by digest) and lists it as ``PENDING_IMPORT``.
- ``PENDING_MULTI_REGION_IMPORT_AND_ROTATION`` "indicates key material that has been imported into the
  primary Region key but not all of the replica Region keys. When this key material is imported in to all
  of the replica Region keys, the key material state will change to ``PENDING_ROTATION``."  The state is
  derived from the set's records, never stored, and every key of the set shows the same one.
- The replica imports "for every replica Region key before you can perform the RotateKeyOnDemand operation
  on the primary Region key"; the rotation then makes the material current on every key of the set at once
  (the set shares its stored materials, so this is the primary's row update and its replicas' sync).
- "When you delete the key material of a primary Region key that is in PENDING_ROTATION or
  PENDING_MULTI_REGION_IMPORT_AND_ROTATION state, you'll also be deleting the key materials for the replica
  Region keys.  If you delete any key material of a replica Region key, the primary Region key and other
  replica Region keys remain unchanged."  kmsd reads expiry at ``ValidTo`` as a deletion too.

Closest readings where AWS documents nothing: a replica created while the primary holds pending material
gets a record of it too (the set is not ready to rotate until the new replica imports it), and a replica
that deletes its pending material keeps the record, not imported, so that it can import it again.

Error wordings that AWS does not document, modelled on AWS's (guessed):

- UnsupportedOperationException "<arn> is a multi-Region replica key. Import new key material into its
  primary key." for ImportType ``NEW_KEY_MATERIAL`` on a replica;
- KMSInvalidStateException "<arn> has key material in PENDING_MULTI_REGION_IMPORT_AND_ROTATION state. Import
  it into every replica key before you rotate the key on demand." for RotateKeyOnDemand on a primary whose
  new material some replica lacks.
"""

from __future__ import annotations

from dataclasses import replace

from kmsd.errors import AwsError
from kmsd.kms.context import KmsContext
from kmsd.store.models import ImportedMaterialRecord, KeyRecord

PENDING_ROTATION = "PENDING_ROTATION"
PENDING_MULTI_REGION_IMPORT_AND_ROTATION = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"


def is_set_primary(key: KeyRecord) -> bool:
    """A multi-Region primary key (with or without replicas)."""
    return key.multi_region and not key.is_replica


def other_keys(ctx: KmsContext, key: KeyRecord) -> list[KeyRecord]:
    """The other keys of ``key``'s multi-Region set (none for a single-Region key)."""
    if not key.multi_region:
        return []
    return [
        member
        for member in ctx.store.keys_with_id(key.key_id)
        if member.account_id == key.account_id and member.region != key.region
    ]


def _holds_imported(ctx: KmsContext, key: KeyRecord, version: int) -> bool:
    return any(
        record.imported and record.version == version
        for record in ctx.store.list_imported_materials(key.key_id, key.region)
    )


def pending_state(ctx: KmsContext, key: KeyRecord, version: int) -> str:
    """The KeyMaterialState of material ``version`` waiting for rotation, the same on every key of the set:
    PENDING_ROTATION once every key of the set holds it imported, until then
    PENDING_MULTI_REGION_IMPORT_AND_ROTATION."""
    members = [key, *other_keys(ctx, key)]
    if all(_holds_imported(ctx, member, version) for member in members):
        return PENDING_ROTATION
    return PENDING_MULTI_REGION_IMPORT_AND_ROTATION


def refuse_new_material_in_replica(key: KeyRecord) -> None:
    """New material enters a set through its primary key only."""
    if key.is_replica:
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} is a multi-Region replica key. Import new key material into its primary key.",
        )


def offer_to_replicas(ctx: KmsContext, primary: KeyRecord, record: ImportedMaterialRecord) -> None:
    """Give every replica a record of the primary's new material, not imported: each one then accepts that
    material, and only that, with EXISTING_KEY_MATERIAL."""
    for replica in other_keys(ctx, primary):
        ctx.store.put_imported_material(
            replace(record, region=replica.region, imported=False, expiration_model=None, valid_to=None)
        )


def forget_pending_in_set(ctx: KmsContext, primary: KeyRecord, version: int) -> None:
    """Deleting the primary's pending material deletes it from the replicas too (AWS's rule): every record of
    it goes and the stored copy is deleted; the caller counts the purge."""
    for member in [primary, *other_keys(ctx, primary)]:
        ctx.store.delete_imported_material(member.key_id, member.region, version)
    ctx.store.delete_key_material(primary.key_id, version)


def require_imported_everywhere(ctx: KmsContext, primary: KeyRecord, version: int) -> None:
    """RotateKeyOnDemand waits until every replica has the new material."""
    if pending_state(ctx, primary, version) == PENDING_MULTI_REGION_IMPORT_AND_ROTATION:
        raise AwsError(
            "KMSInvalidStateException",
            f"{primary.arn} has key material in {PENDING_MULTI_REGION_IMPORT_AND_ROTATION} state. Import it into "
            "every replica key before you rotate the key on demand.",
        )


def record_rotation_in_replicas(ctx: KmsContext, primary: KeyRecord, rotated: ImportedMaterialRecord) -> None:
    """The replicas list the rotation their primary made, with its type and date."""
    for replica in other_keys(ctx, primary):
        for record in ctx.store.list_imported_materials(replica.key_id, replica.region):
            if record.version == rotated.version:
                ctx.store.put_imported_material(
                    replace(record, rotation_type=rotated.rotation_type, rotated_at=rotated.rotated_at)
                )
