"""KmsService itself: the operation table, unknown operations, and all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.kms.service import OPERATIONS, KmsService
from kmsd.store.sqlite import SqliteStore

from .aws_errors import aws_error
from .conftest import ACCOUNT, REGION, Kms, caller_for

EXPECTED_OPERATIONS = {
    "CreateKey", "DescribeKey", "ListKeys", "EnableKey", "DisableKey", "UpdateKeyDescription",
    "ScheduleKeyDeletion", "CancelKeyDeletion", "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases",
    "TagResource", "UntagResource", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand",
    "ListKeyRotations",
    "CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant",
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom",
    "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial",
    "GetPublicKey", "Sign", "Verify", "DeriveSharedSecret", "GenerateMac", "VerifyMac",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GetKeyLastUsage",
    "Encapsulate", "Decapsulate",
    "CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore", "DescribeCustomKeyStores",
    "UpdateCustomKeyStore", "DeleteCustomKeyStore",
    "ReplicateKey", "UpdatePrimaryRegion",
}  # fmt: skip


def test_operations(service: KmsService) -> None:
    assert service.operations == frozenset(EXPECTED_OPERATIONS) == frozenset(OPERATIONS)


def test_unknown_operation(kms: Kms) -> None:
    # Issue 11: custom key stores are implemented now (tests/kms/test_custom_key_stores.py).
    with aws_error("UnknownOperationException", "Unknown operation FrobnicateKey"):
        kms("FrobnicateKey", KeyId="x")


class FailingRootKey:
    """A root key that cannot wrap: CreateKey fails after the key row is written, before its material is."""

    def wrap(self, plaintext: bytes, purpose: bytes) -> bytes:
        raise RuntimeError("root key unavailable")

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes:
        raise RuntimeError("root key unavailable")


def test_create_key_failing_half_way_leaves_nothing(store: SqliteStore, clock: ManualClock) -> None:
    broken = KmsService(store, FailingRootKey(), clock, SeededRandomSource(1))
    with pytest.raises(RuntimeError):
        broken.call("CreateKey", {}, caller_for())
    assert store.list_keys(ACCOUNT, REGION, None, 10) == []


def test_rotation_failing_half_way_leaves_the_key_as_it_was(
    tmp_path: Path, store: SqliteStore, clock: ManualClock
) -> None:
    working = KmsService(store, FileRootKey.load_or_create(tmp_path / "root.key"), clock, SeededRandomSource(1))
    key_id = working.call("CreateKey", {}, caller_for())["KeyMetadata"]["KeyId"]
    broken = KmsService(store, FailingRootKey(), clock, SeededRandomSource(2))
    with pytest.raises(RuntimeError):
        broken.call("RotateKeyOnDemand", {"KeyId": key_id}, caller_for())
    assert len(store.list_key_materials(key_id)) == 1
    key = store.get_key(key_id, REGION)
    assert key is not None and key.current_material_version == 1


def test_services_on_one_store_see_each_others_keys(
    tmp_path: Path, store: SqliteStore, clock: ManualClock, kms: Kms
) -> None:
    key_id = kms.create_key()["KeyId"]
    second = KmsService(store, FileRootKey.load_or_create(tmp_path / "root.key"), clock, SeededRandomSource(7))
    # Same seed as the first service: the key id generator must skip ids already taken.
    other_id = second.call("CreateKey", {}, caller_for())["KeyMetadata"]["KeyId"]
    assert other_id != key_id
    assert second.call("DescribeKey", {"KeyId": key_id}, caller_for())["KeyMetadata"]["KeyId"] == key_id
