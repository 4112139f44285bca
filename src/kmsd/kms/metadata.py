"""A key's ``KeyMetadata`` as CreateKey and DescribeKey return it (AWS's full ``KeyMetadata`` shape).

Members that do not apply to a key are left out, as AWS leaves them out:
``DeletionDate`` and ``PendingDeletionWindowInDays`` only while the key is
pending deletion, and the algorithm lists only for the usage that has them
(a symmetric encryption key lists ``EncryptionAlgorithms``, from its
:class:`~kmsd.crypto.key_spec.KeySpec`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kmsd.crypto.key_spec import (
    ENCAPSULATE_DECAPSULATE,
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    key_spec,
)
from kmsd.kms.context import KmsContext
from kmsd.kms.imports import current_material_record
from kmsd.kms.token_keys import TOKEN_ORIGINS, metadata_members
from kmsd.store.models import KeyRecord


def key_metadata(ctx: KmsContext, key: KeyRecord) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation_date,
        "Enabled": key.key_state == "Enabled",
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.key_state,
        "Origin": key.origin,
        "KeyManager": key.key_manager,
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    }
    spec = key_spec(key.key_spec)
    if spec.in_legacy_enum:
        # CustomerMasterKeySpec is deprecated and has no members for the newer specs; AWS leaves it out for them.
        metadata["CustomerMasterKeySpec"] = key.key_spec
    # Each usage lists its own algorithms (DescribeKey API reference, KeyMetadata).
    if key.key_usage == ENCRYPT_DECRYPT and spec.encryption_algorithms:
        metadata["EncryptionAlgorithms"] = list(spec.encryption_algorithms)
    elif key.key_usage == SIGN_VERIFY and spec.signing_algorithms:
        metadata["SigningAlgorithms"] = list(spec.signing_algorithms)
    elif key.key_usage == GENERATE_VERIFY_MAC and spec.mac_algorithms:
        metadata["MacAlgorithms"] = list(spec.mac_algorithms)
    elif key.key_usage == KEY_AGREEMENT and spec.key_agreement_algorithms:
        metadata["KeyAgreementAlgorithms"] = list(spec.key_agreement_algorithms)
    elif key.key_usage == ENCAPSULATE_DECAPSULATE and spec.encapsulation_algorithms:
        metadata["EncapsulationAlgorithms"] = list(spec.encapsulation_algorithms)
    if key.multi_region:
        metadata["MultiRegionConfiguration"] = multi_region_configuration(ctx, key)
    if key.key_state == "PendingDeletion":
        metadata["DeletionDate"] = key.deletion_date
        metadata["PendingDeletionWindowInDays"] = key.pending_deletion_window_days
    elif key.key_state == "PendingReplicaDeletion":
        # KeyMetadata "PendingDeletionWindowInDays": "The waiting period before the primary key in a multi-Region
        # key is deleted. This waiting period begins when the last of its replica keys is deleted."  No date yet.
        metadata["PendingDeletionWindowInDays"] = key.pending_deletion_window_days
    imported = current_material_record(ctx, key) if key.origin == "EXTERNAL" else None
    if imported is not None and imported.expiration_model is not None:
        # Imported material: how its current material expires, and when (DescribeKey API reference, KeyMetadata).
        metadata["ExpirationModel"] = imported.expiration_model
        if imported.valid_to is not None:
            metadata["ValidTo"] = imported.valid_to
    if key.origin in TOKEN_ORIGINS:
        # A key in a custom key store: CustomKeyStoreId and CloudHsmClusterId (DescribeKey, KeyMetadata).
        metadata.update(metadata_members(ctx, key))
    # CurrentKeyMaterialId: "This value is present for symmetric encryption keys with AWS_KMS or EXTERNAL origin."
    material = ctx.store.get_key_material(key.key_id, key.current_material_version)
    if material is not None and spec.is_symmetric_encryption and key.origin not in TOKEN_ORIGINS:
        metadata["CurrentKeyMaterialId"] = material.material_id
    return metadata


def multi_region_configuration(ctx: KmsContext, key: KeyRecord) -> dict[str, Any]:
    """``MultiRegionConfiguration`` of a multi-Region key (DescribeKey API reference, KeyMetadata): its type, the
    set's primary key and every replica, whichever key of the set is described."""
    primary_region = key.primary_region or key.region
    primary_arn = replace(key, region=primary_region).arn
    members = [member for member in ctx.store.keys_with_id(key.key_id) if member.account_id == key.account_id]
    return {
        "MultiRegionKeyType": "REPLICA" if key.is_replica else "PRIMARY",
        "PrimaryKey": {"Arn": primary_arn, "Region": primary_region},
        "ReplicaKeys": [
            {"Arn": member.arn, "Region": member.region} for member in members if member.region != primary_region
        ],
    }
