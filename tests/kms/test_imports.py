"""Imported key material through :class:`KmsService`: CreateKey with Origin EXTERNAL, GetParametersForImport,
ImportKeyMaterial, DeleteImportedKeyMaterial, expiry on the manual clock, and the key states around them."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsd.clock import ManualClock
from kmsd.store.sqlite import SqliteStore
from tests.crypto.import_wrapping import wrap_outside
from tests.kms.aws_errors import aws_error
from tests.kms.conftest import REGION, Kms

ALGORITHM = "RSAES_OAEP_SHA_256"


def external_key(kms: Kms) -> dict[str, Any]:
    return kms.create_key(Origin="EXTERNAL")


def import_material(kms: Kms, key_id: str, material: bytes, algorithm: str = ALGORITHM, **params: Any) -> Any:
    parameters = kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    wrapped = wrap_outside(parameters["PublicKey"], algorithm, material)
    params.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms(
        "ImportKeyMaterial", KeyId=key_id, ImportToken=parameters["ImportToken"], EncryptedKeyMaterial=wrapped, **params
    )


def test_an_external_key_waits_for_its_material(kms: Kms) -> None:
    metadata = external_key(kms)
    assert metadata["Origin"] == "EXTERNAL" and metadata["KeyState"] == "PendingImport"
    assert metadata["Enabled"] is False
    assert "CurrentKeyMaterialId" not in metadata and "ExpirationModel" not in metadata
    arn = metadata["Arn"]
    for operation in ("Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        params: dict[str, Any] = {"Plaintext": b"x"} if operation == "Encrypt" else {"KeySpec": "AES_256"}
        with aws_error("KMSInvalidStateException", f"{arn} is pending import."):
            kms(operation, KeyId=arn, **params)
    for operation in ("EnableKey", "DisableKey"):
        with aws_error("KMSInvalidStateException", f"{arn} is pending import."):
            kms(operation, KeyId=arn)
    # Management operations run while the key waits (key state table).
    kms("UpdateKeyDescription", KeyId=arn, Description="waiting")
    kms("TagResource", KeyId=arn, Tags=[{"TagKey": "a", "TagValue": "b"}])
    kms("CreateAlias", AliasName="alias/imported", TargetKeyId=arn)


def test_imported_material_encrypts_and_decrypts(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    parameters = kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    assert parameters["KeyId"].endswith(key_id)
    material = os.urandom(32)
    imported = kms(
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], ALGORITHM, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert len(imported["KeyMaterialId"]) == 64
    metadata = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled" and metadata["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert metadata["CurrentKeyMaterialId"] == imported["KeyMaterialId"] and "ValidTo" not in metadata
    blob = kms("Encrypt", KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert kms("Decrypt", CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_parameters_are_valid_for_24_hours(kms: Kms, clock: ManualClock) -> None:
    key_id = external_key(kms)["KeyId"]
    parameters = kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    assert parameters["ParametersValidTo"] == clock.now() + timedelta(hours=24)
    clock.advance(timedelta(hours=24))
    with aws_error("ExpiredImportTokenException"):
        kms(
            "ImportKeyMaterial",
            KeyId=key_id,
            ImportToken=parameters["ImportToken"],
            EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], ALGORITHM, os.urandom(32)),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )


def test_a_token_is_bound_to_its_key(kms: Kms) -> None:
    first, second = external_key(kms)["KeyId"], external_key(kms)["KeyId"]
    parameters = kms("GetParametersForImport", KeyId=first, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    wrapped = wrap_outside(parameters["PublicKey"], ALGORITHM, os.urandom(32))
    for token in (parameters["ImportToken"], b"not a token"):
        with aws_error("InvalidImportTokenException"):
            kms(
                "ImportKeyMaterial",
                KeyId=second,
                ImportToken=token,
                EncryptedKeyMaterial=wrapped,
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            )
    assert kms("DescribeKey", KeyId=second)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_material_of_the_wrong_size_or_wrapping_is_refused(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    with aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(16))
    parameters = kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    wrapped_sha1 = wrap_outside(parameters["PublicKey"], "RSAES_OAEP_SHA_1", os.urandom(32))
    with aws_error("InvalidCiphertextException"):
        kms(
            "ImportKeyMaterial",
            KeyId=key_id,
            ImportToken=parameters["ImportToken"],
            EncryptedKeyMaterial=wrapped_sha1,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )


def test_only_the_same_material_is_imported_again(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    material = os.urandom(32)
    first = import_material(kms, key_id, material)
    blob = kms("Encrypt", KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    with aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(32))
    deleted = kms("DeleteImportedKeyMaterial", KeyId=key_id)
    assert deleted["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with aws_error("KMSInvalidStateException"):
        kms("Decrypt", CiphertextBlob=blob)
    with aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(32))
    again = import_material(kms, key_id, material, "RSA_AES_KEY_WRAP_SHA_256")
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms("Decrypt", CiphertextBlob=blob)["Plaintext"] == b"before"


def test_delete_scrubs_the_material_and_counts_a_purge(kms: Kms, store: SqliteStore) -> None:
    key_id = external_key(kms)["KeyId"]
    import_material(kms, key_id, os.urandom(32))
    kms("Encrypt", KeyId=key_id, Plaintext=b"cached")
    purges = store.get_setting("kms_key_purges")
    kms("DeleteImportedKeyMaterial", KeyId=key_id)
    assert store.list_key_materials(key_id) == []
    assert store.get_setting("kms_key_purges") != purges
    assert not [entry for entry in kms.service.context.materials._cache if entry[0] == key_id]


def test_expiring_material_is_deleted_when_valid_to_passes(kms: Kms, clock: ManualClock) -> None:
    key_id = external_key(kms)["KeyId"]
    valid_to = clock.now() + timedelta(days=2)
    import_material(kms, key_id, os.urandom(32), ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    metadata = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and metadata["ValidTo"] == valid_to
    clock.advance(timedelta(days=1))
    kms.service.sweep()
    kms("Encrypt", KeyId=key_id, Plaintext=b"still")
    clock.advance(timedelta(days=1))
    kms.service.sweep()
    metadata = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingImport" and "ValidTo" not in metadata
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending import."):
        kms("Encrypt", KeyId=key_id, Plaintext=b"gone")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES"},
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": "future"},
        {"ValidTo": "past"},
        {"ValidTo": "366 days"},
    ],
)
def test_expiration_parameters_follow_aws_rules(kms: Kms, clock: ManualClock, params: dict[str, Any]) -> None:
    when = {"future": timedelta(days=1), "past": timedelta(seconds=-1), "366 days": timedelta(days=366)}
    if "ValidTo" in params:
        params = {**params, "ValidTo": clock.now() + when[params["ValidTo"]]}
    key_id = external_key(kms)["KeyId"]
    parameters = kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    with aws_error("ValidationException"):
        kms(
            "ImportKeyMaterial",
            KeyId=key_id,
            ImportToken=parameters["ImportToken"],
            EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], ALGORITHM, os.urandom(32)),
            **params,
        )


def test_import_operations_refuse_a_key_of_origin_aws_kms(kms: Kms) -> None:
    arn = kms.create_key()["Arn"]
    message = f"{arn} origin is AWS_KMS which is not valid for this operation."
    with aws_error("UnsupportedOperationException", message):
        kms("GetParametersForImport", KeyId=arn, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    with aws_error("UnsupportedOperationException", message):
        kms("DeleteImportedKeyMaterial", KeyId=arn)
    with aws_error("UnsupportedOperationException", message):
        kms("ImportKeyMaterial", KeyId=arn, ImportToken=b"t", EncryptedKeyMaterial=b"m")


def test_automatic_rotation_is_refused_for_imported_material(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    import_material(kms, key_id, os.urandom(32))
    arn = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["Arn"]
    for operation in ("EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus"):
        with aws_error(
            "UnsupportedOperationException", f"{arn} origin is EXTERNAL which is not valid for this operation."
        ):
            kms(operation, KeyId=key_id)
    # On-demand rotation needs new material waiting for it.
    with aws_error("UnsupportedOperationException"):
        kms("RotateKeyOnDemand", KeyId=key_id)


def rotations(kms: Kms, key_id: str, include: str = "ALL_KEY_MATERIAL") -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = kms("ListKeyRotations", KeyId=key_id, IncludeKeyMaterial=include)["Rotations"]
    return entries


def test_new_material_waits_for_rotation_then_becomes_current(kms: Kms, clock: ManualClock) -> None:
    key_id = external_key(kms)["KeyId"]
    first_material, second_material = os.urandom(32), os.urandom(32)
    first = import_material(kms, key_id, first_material, KeyMaterialDescription="first")["KeyMaterialId"]
    old_blob = kms("Encrypt", KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    with aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, first_material, ImportType="NEW_KEY_MATERIAL")
    second = import_material(kms, key_id, second_material, ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    assert second != first
    assert [
        (entry["KeyMaterialId"], entry["KeyMaterialState"], entry["ImportState"]) for entry in rotations(kms, key_id)
    ] == [
        (first, "CURRENT", "IMPORTED"),
        (second, "PENDING_ROTATION", "IMPORTED"),
    ]
    assert rotations(kms, key_id)[0]["KeyMaterialDescription"] == "first"
    assert rotations(kms, key_id, "ROTATIONS_ONLY") == []
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == first
    with aws_error("KMSInvalidStateException"):
        import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")

    assert kms("RotateKeyOnDemand", KeyId=key_id)["KeyId"].endswith(key_id)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second
    (rotated,) = rotations(kms, key_id, "ROTATIONS_ONLY")
    assert rotated["KeyMaterialId"] == second and rotated["KeyMaterialState"] == "CURRENT"
    assert rotated["RotationType"] == "ON_DEMAND" and rotated["RotationDate"] == clock.now()
    assert rotations(kms, key_id)[0]["KeyMaterialState"] == "NON_CURRENT"
    new_blob = kms("Encrypt", KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert kms("Decrypt", CiphertextBlob=old_blob)["Plaintext"] == b"old"

    # Deleting a non-current material makes the key wait for it; only that material brings it back.
    kms("DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId=first)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert rotations(kms, key_id)[0]["ImportState"] == "PENDING_IMPORT"
    with aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, first_material, KeyMaterialId=second)
    import_material(kms, key_id, first_material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms("Decrypt", CiphertextBlob=old_blob)["Plaintext"] == b"old"
    assert kms("Decrypt", CiphertextBlob=new_blob)["Plaintext"] == b"new"


def test_material_pending_rotation_can_be_deleted_and_replaced(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    import_material(kms, key_id, os.urandom(32))
    pending = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    deleted = kms("DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId=pending)
    assert deleted["KeyMaterialId"] == pending
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert len(rotations(kms, key_id)) == 1
    with aws_error("NotFoundException"):
        kms("DeleteImportedKeyMaterial", KeyId=key_id, KeyMaterialId=pending)
    replacement = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    kms("RotateKeyOnDemand", KeyId=key_id)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == replacement


def test_import_type_rules(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    with aws_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(32), ImportType="EXISTING_KEY_MATERIAL")
    with aws_error("ValidationException"):
        import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL", KeyMaterialId="a" * 64)


def test_a_pending_material_that_expires_is_forgotten(kms: Kms, clock: ManualClock) -> None:
    key_id = external_key(kms)["KeyId"]
    import_material(kms, key_id, os.urandom(32))
    valid_to = clock.now() + timedelta(hours=1)
    import_material(
        kms,
        key_id,
        os.urandom(32),
        ImportType="NEW_KEY_MATERIAL",
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )
    assert rotations(kms, key_id)[1]["ValidTo"] == valid_to
    clock.advance(timedelta(hours=1))
    kms.service.sweep()
    assert len(rotations(kms, key_id)) == 1
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_pending_deletion_key_loses_material_but_keeps_its_state(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    import_material(kms, key_id, os.urandom(32))
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    arn = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["Arn"]
    with aws_error("KMSInvalidStateException", f"{arn} is pending deletion."):
        kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="RSA_2048")
    kms("DeleteImportedKeyMaterial", KeyId=key_id)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms("CancelKeyDeletion", KeyId=key_id)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_wrapping_parameters_aws_no_longer_accepts_are_refused(kms: Kms) -> None:
    key_id = external_key(kms)["KeyId"]
    with aws_error("UnsupportedOperationException"):
        kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048")
    with aws_error("UnsupportedOperationException"):
        kms("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=ALGORITHM, WrappingKeySpec="SM2")


def test_expired_material_is_unusable_before_the_sweep_runs(kms: Kms, clock: ManualClock, store: SqliteStore) -> None:
    key_id = external_key(kms)["KeyId"]
    valid_to = clock.now() + timedelta(hours=1)
    import_material(kms, key_id, os.urandom(32), ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    blob = kms("Encrypt", KeyId=key_id, Plaintext=b"for an hour")["CiphertextBlob"]
    clock.advance(timedelta(hours=1))
    arn = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["Arn"]
    with aws_error("KMSInvalidStateException", f"{arn} is pending import."):
        kms("Decrypt", CiphertextBlob=blob)
    assert store.list_key_materials(key_id) == []
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_a_purged_key_takes_its_imported_material_records_with_it(
    kms: Kms, clock: ManualClock, store: SqliteStore
) -> None:
    metadata = external_key(kms)
    import_material(kms, metadata["KeyId"], os.urandom(32))
    import_material(kms, metadata["KeyId"], os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert len(store.list_imported_materials(metadata["KeyId"], metadata["Arn"].split(":")[3])) == 2
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"], PendingWindowInDays=7)
    clock.advance(timedelta(days=7))
    kms.service.sweep()
    assert store.get_key(metadata["KeyId"], REGION) is None
    assert store.list_imported_materials(metadata["KeyId"], metadata["Arn"].split(":")[3]) == []


def test_an_asymmetric_key_takes_a_private_key_of_its_spec(kms: Kms) -> None:
    private = ec.generate_private_key(ec.SECP256K1())
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY")
    with aws_error("ValidationException"):
        import_material(kms, key["KeyId"], der, KeyMaterialDescription="asymmetric keys take none")
    import_material(kms, key["KeyId"], der, "RSA_AES_KEY_WRAP_SHA_256")
    assert "CurrentKeyMaterialId" not in kms("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]
    signature = kms("Sign", KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
    with aws_error(
        "UnsupportedOperationException",
        f"{key['Arn']} key spec is ECC_SECG_P256K1 which is not valid for this operation.",
    ):
        kms("ListKeyRotations", KeyId=key["KeyId"])


def test_ml_dsa_keys_take_no_imported_material(kms: Kms) -> None:
    with aws_error("UnsupportedOperationException", "Origin EXTERNAL is not supported for KeySpec ML_DSA_44."):
        kms("CreateKey", Origin="EXTERNAL", KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")
