"""A key's ``KeyMetadata`` as CreateKey and DescribeKey return it (AWS's full ``KeyMetadata`` shape).

Members that do not apply to a key are left out, as AWS leaves them out:
``DeletionDate`` and ``PendingDeletionWindowInDays`` only while the key is
pending deletion, and the algorithm lists only for the usage that has them
(a symmetric encryption key lists ``EncryptionAlgorithms``).
"""

from __future__ import annotations

from typing import Any

from kmsd.kms.context import KmsContext
from kmsd.store.models import KeyRecord

# Which algorithm list a key spec carries, by spec ("Key spec reference", KMS Developer Guide).
_ENCRYPTION_ALGORITHMS: dict[str, list[str]] = {"SYMMETRIC_DEFAULT": ["SYMMETRIC_DEFAULT"]}

# CustomerMasterKeySpec is deprecated and has no members for the newer specs; AWS leaves it out for them.
_LEGACY_KEY_SPECS = frozenset(
    {
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "SYMMETRIC_DEFAULT",
        "HMAC_224",
        "HMAC_256",
        "HMAC_384",
        "HMAC_512",
        "SM2",
    }
)


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
        "KeyManager": "CUSTOMER",
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    }
    if key.key_spec in _LEGACY_KEY_SPECS:
        metadata["CustomerMasterKeySpec"] = key.key_spec
    if key.key_spec in _ENCRYPTION_ALGORITHMS:
        metadata["EncryptionAlgorithms"] = list(_ENCRYPTION_ALGORITHMS[key.key_spec])
    if key.key_state == "PendingDeletion":
        metadata["DeletionDate"] = key.deletion_date
        metadata["PendingDeletionWindowInDays"] = key.pending_deletion_window_days
    material = ctx.store.get_key_material(key.key_id, key.current_material_version)
    if material is not None:
        metadata["CurrentKeyMaterialId"] = material.material_id
    return metadata
