"""Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) and GenerateRandom through KmsService.call.

Each refusal is asserted with AWS's error code and message.  Keys of kinds
CreateKey does not make (SIGN_VERIFY, RSA) are inserted into the store directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kmsd.authz.default_policy import default_key_policy
from kmsd.clock import ManualClock
from kmsd.crypto import CiphertextBlob
from kmsd.errors import AwsError
from kmsd.store.models import KeyRecord
from kmsd.store.sqlite import SqliteStore
from tests.kms.conftest import ACCOUNT, REGION, Kms, caller_for

DRY_RUN = "The request would have succeeded, but the DryRun option is set."
INCORRECT_KEY = "The key ID in the request does not identify a CMK that can perform this operation."
SPECIFY_ONE = "Please specify either number of bytes or key spec."


def refusal(kms: Kms, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as excinfo:
        kms(operation, **params)
    return excinfo.value.code, excinfo.value.message


@pytest.fixture
def key(kms: Kms) -> dict[str, Any]:
    return kms.create_key(Description="crypto ops")


def insert_key(store: SqliteStore, clock: ManualClock, key_id: str, usage: str, spec: str) -> str:
    """A key of a kind CreateKey refuses to make; returns its ARN."""
    record = KeyRecord(
        key_id=key_id,
        account_id=ACCOUNT,
        region=REGION,
        description="",
        key_usage=usage,
        key_spec=spec,
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=clock.now(),
        policy=default_key_policy(ACCOUNT),
        current_material_version=1,
    )
    with store.transaction():
        store.insert_key(record)
    return record.arn


@pytest.fixture
def sign_key(store: SqliteStore, clock: ManualClock) -> str:
    return insert_key(store, clock, "5a1e9c2b-7d3f-4e6a-9b8c-0d1e2f3a4b5c", "SIGN_VERIFY", "ECC_NIST_P256")


@pytest.fixture
def rsa_key(store: SqliteStore, clock: ManualClock) -> str:
    return insert_key(store, clock, "6b2f0d3c-8e4a-4f7b-8c9d-1e2f3a4b5c6d", "ENCRYPT_DECRYPT", "RSA_2048")


def material_id(store: SqliteStore, key_id: str, version: int) -> str:
    record = store.get_key_material(key_id, version)
    assert record is not None
    return record.material_id


# --- Encrypt --------------------------------------------------------------------------------------------


def test_encrypt_returns_a_blob_naming_the_key_and_its_current_material(kms: Kms, key: dict[str, Any]) -> None:
    response = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext={"a": "1"})
    assert set(response) == {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
    assert response["KeyId"] == key["Arn"]
    assert response["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = CiphertextBlob.decode(response["CiphertextBlob"])
    assert (blob.key_id, blob.material_version) == (key["KeyId"], 1)


@pytest.mark.parametrize("spelling", ["KeyId", "Arn", "alias", "alias ARN"])
def test_encrypt_accepts_every_spelling_of_the_key(kms: Kms, key: dict[str, Any], spelling: str) -> None:
    kms("CreateAlias", AliasName="alias/crypto", TargetKeyId=key["KeyId"])
    key_id = {
        "KeyId": key["KeyId"],
        "Arn": key["Arn"],
        "alias": "alias/crypto",
        "alias ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/crypto",
    }[spelling]
    response = kms("Encrypt", KeyId=key_id, Plaintext=b"x")
    assert response["KeyId"] == key["Arn"]
    assert kms("Decrypt", CiphertextBlob=response["CiphertextBlob"])["Plaintext"] == b"x"


def test_encrypt_names_a_missing_key(kms: Kms) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert refusal(kms, "Encrypt", KeyId=missing, Plaintext=b"x") == (
        "NotFoundException",
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist",
    )


def test_encrypt_refuses_a_disabled_key(kms: Kms, key: dict[str, Any]) -> None:
    kms("DisableKey", KeyId=key["KeyId"])
    assert refusal(kms, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x") == (
        "DisabledException",
        f"{key['Arn']} is disabled.",
    )


def test_encrypt_refuses_a_key_pending_deletion(kms: Kms, key: dict[str, Any]) -> None:
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    assert refusal(kms, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x") == (
        "KMSInvalidStateException",
        f"{key['Arn']} is pending deletion.",
    )


def test_encrypt_refuses_a_key_not_for_encryption(kms: Kms, sign_key: str) -> None:
    # API reference, Encrypt: "The KMS key must have a KeyUsage of ENCRYPT_DECRYPT."
    assert refusal(kms, "Encrypt", KeyId=sign_key, Plaintext=b"x") == (
        "InvalidKeyUsageException",
        f"{sign_key} key usage is SIGN_VERIFY which is not valid for Encrypt.",
    )


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"])
def test_encrypt_refuses_an_asymmetric_algorithm_on_a_symmetric_key(
    kms: Kms, key: dict[str, Any], algorithm: str
) -> None:
    assert refusal(kms, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm=algorithm) == (
        "InvalidKeyUsageException",
        f"Algorithm {algorithm} is incompatible with key spec SYMMETRIC_DEFAULT.",
    )


def test_encrypt_with_an_rsa_key(kms: Kms, rsa_key: str) -> None:
    # SYMMETRIC_DEFAULT on an RSA key is AWS's refusal (RSA-OAEP itself: tests/kms/test_rsa_encryption.py,
    # issue 11).
    assert refusal(kms, "Encrypt", KeyId=rsa_key, Plaintext=b"x") == (
        "InvalidKeyUsageException",
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    )


def test_encrypt_dry_run(kms: Kms, key: dict[str, Any]) -> None:
    assert refusal(kms, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x", DryRun=True) == (
        "DryRunOperationException",
        DRY_RUN,
    )
    kms("DisableKey", KeyId=key["KeyId"])
    # A dry run reports what the real call would: here, the disabled key.
    assert refusal(kms, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)[0] == "DisabledException"


def test_dry_run_false_is_an_ordinary_call(kms: Kms, key: dict[str, Any]) -> None:
    assert "CiphertextBlob" in kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", DryRun=False)


# --- Decrypt --------------------------------------------------------------------------------------------


def test_decrypt_reads_the_key_from_the_blob(kms: Kms, store: SqliteStore, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext={"a": "1"})["CiphertextBlob"]
    response = kms("Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "1"})
    assert response == {
        "KeyId": key["Arn"],
        "Plaintext": b"secret",
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "KeyMaterialId": material_id(store, key["KeyId"], 1),
    }


@pytest.mark.parametrize(
    "context",
    [None, {}, {"a": "2"}, {"A": "1"}, {"a": "1", "b": "2"}, {"a1": ""}],
    ids=["missing", "empty", "other-value", "other-case", "extra-pair", "moved-boundary"],
)
def test_decrypt_with_a_different_context_fails_without_a_reason(
    kms: Kms, key: dict[str, Any], context: dict[str, str] | None
) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "1"})["CiphertextBlob"]
    params: dict[str, Any] = {"CiphertextBlob": blob}
    if context is not None:
        params["EncryptionContext"] = context
    assert refusal(kms, "Decrypt", **params) == ("InvalidCiphertextException", "")


def test_no_context_and_an_empty_context_are_the_same(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert kms("Decrypt", CiphertextBlob=blob, EncryptionContext={})["Plaintext"] == b"x"


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip-first-byte", "flip-key-id", "flip-version", "flip-nonce", "flip-tag", "garbage"],
)
def test_decrypt_of_a_damaged_blob_fails_without_a_reason(kms: Kms, key: dict[str, Any], damage: str) -> None:
    blob = bytearray(kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"])
    position = {"flip-first-byte": 0, "flip-key-id": 5, "flip-version": 20, "flip-nonce": 25, "flip-tag": -1}
    if damage == "truncate":
        blob = blob[:40]
    elif damage == "garbage":
        blob = bytearray(b"AAAA")
    else:
        blob[position[damage]] ^= 0x01
    assert refusal(kms, "Decrypt", CiphertextBlob=bytes(blob)) == ("InvalidCiphertextException", "")


def test_decrypt_with_the_right_key_id(kms: Kms, key: dict[str, Any]) -> None:
    kms("CreateAlias", AliasName="alias/right", TargetKeyId=key["KeyId"])
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    for key_id in (key["KeyId"], key["Arn"], "alias/right"):
        assert kms("Decrypt", CiphertextBlob=blob, KeyId=key_id)["Plaintext"] == b"x"


def test_decrypt_with_another_key_id_is_incorrect_key(kms: Kms, key: dict[str, Any]) -> None:
    # API reference, Decrypt "KeyId": "If you identify a different KMS key, the Decrypt operation
    # throws an IncorrectKeyException."
    other = kms.create_key()
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert refusal(kms, "Decrypt", CiphertextBlob=blob, KeyId=other["KeyId"]) == (
        "IncorrectKeyException",
        INCORRECT_KEY,
    )


def test_decrypt_looks_up_a_named_key_before_reading_the_blob(kms: Kms) -> None:
    code, _ = refusal(kms, "Decrypt", CiphertextBlob=b"AAAA", KeyId="alias/nowhere")
    assert code == "NotFoundException"


def test_decrypt_needs_a_ciphertext(kms: Kms) -> None:
    assert refusal(kms, "Decrypt") == (
        "ValidationException",
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: "
        "Member must not be null",
    )


def test_decrypt_refuses_a_disabled_key(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms("DisableKey", KeyId=key["KeyId"])
    assert refusal(kms, "Decrypt", CiphertextBlob=blob) == ("DisabledException", f"{key['Arn']} is disabled.")


def test_decrypt_refuses_an_asymmetric_algorithm(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert refusal(kms, "Decrypt", CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1") == (
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_1 is incompatible with key spec SYMMETRIC_DEFAULT.",
    )
    explicit = kms("Decrypt", CiphertextBlob=blob, EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    assert explicit["Plaintext"] == b"x"


def test_decrypt_in_another_region_cannot_find_the_key(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    elsewhere = kms.as_caller(caller_for(region="eu-west-1"))
    assert refusal(elsewhere, "Decrypt", CiphertextBlob=blob) == ("InvalidCiphertextException", "")


def test_decrypt_after_the_key_was_deleted(
    kms: Kms, store: SqliteStore, clock: ManualClock, key: dict[str, Any]
) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    assert refusal(kms, "Decrypt", CiphertextBlob=blob)[0] == "KMSInvalidStateException"
    clock.advance(timedelta(days=7, seconds=1))
    # The window has ended: the key is deleted on first sight and the blob names nothing any more.
    assert refusal(kms, "Decrypt", CiphertextBlob=blob) == ("InvalidCiphertextException", "")
    assert store.get_key(key["KeyId"], REGION) is None


def test_old_ciphertexts_decrypt_after_rotation(kms: Kms, store: SqliteStore, key: dict[str, Any]) -> None:
    before = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"old")["CiphertextBlob"]
    kms("RotateKeyOnDemand", KeyId=key["KeyId"])
    after = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"new")["CiphertextBlob"]
    assert CiphertextBlob.decode(after).material_version == 2
    old = kms("Decrypt", CiphertextBlob=before)
    new = kms("Decrypt", CiphertextBlob=after)
    assert (old["Plaintext"], new["Plaintext"]) == (b"old", b"new")
    assert old["KeyMaterialId"] == material_id(store, key["KeyId"], 1)
    assert new["KeyMaterialId"] == material_id(store, key["KeyId"], 2)
    assert old["KeyMaterialId"] != new["KeyMaterialId"]


def test_a_blob_pointed_at_another_generation_fails(kms: Kms, key: dict[str, Any]) -> None:
    kms("RotateKeyOnDemand", KeyId=key["KeyId"])
    blob = bytearray(kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"])
    blob[17:21] = (1).to_bytes(4, "big")  # claim material version 1 instead of 2
    assert refusal(kms, "Decrypt", CiphertextBlob=bytes(blob)) == ("InvalidCiphertextException", "")
    blob[17:21] = (9).to_bytes(4, "big")  # a version that does not exist
    assert refusal(kms, "Decrypt", CiphertextBlob=bytes(blob)) == ("InvalidCiphertextException", "")


def test_decrypt_dry_run_checks_the_ciphertext(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "1"})["CiphertextBlob"]
    assert refusal(kms, "Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "1"}, DryRun=True) == (
        "DryRunOperationException",
        DRY_RUN,
    )
    assert refusal(kms, "Decrypt", CiphertextBlob=blob, DryRun=True) == ("InvalidCiphertextException", "")


def test_decrypt_dry_run_without_a_ciphertext(kms: Kms, key: dict[str, Any]) -> None:
    # API reference, Decrypt "CiphertextBlob": required "except when DryRun is true and
    # DryRunModifiers is set to IGNORE_CIPHERTEXT"; the key then comes from KeyId.
    modifiers = ["IGNORE_CIPHERTEXT"]
    assert refusal(kms, "Decrypt", KeyId=key["KeyId"], DryRun=True, DryRunModifiers=modifiers) == (
        "DryRunOperationException",
        DRY_RUN,
    )
    assert refusal(kms, "Decrypt", DryRun=True, DryRunModifiers=modifiers) == (
        "ValidationException",
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    )
    assert refusal(kms, "Decrypt", KeyId=key["KeyId"], DryRunModifiers=modifiers)[0] == "ValidationException"
    kms("DisableKey", KeyId=key["KeyId"])
    assert refusal(kms, "Decrypt", KeyId=key["KeyId"], DryRun=True, DryRunModifiers=modifiers)[0] == (
        "DisabledException"
    )


def test_decrypt_for_a_recipient_whose_attestation_document_does_not_verify(kms: Kms, key: dict[str, Any]) -> None:
    # tests/integration/test_kms_recipient.py answers enclaves whose documents verify.
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    recipient = {"AttestationDocument": b"doc", "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
    assert refusal(kms, "Decrypt", CiphertextBlob=blob, Recipient=recipient) == (
        "ValidationException",
        "The attestation document in the Recipient parameter is not valid.",
    )


# --- ReEncrypt ------------------------------------------------------------------------------------------


def test_re_encrypt_moves_a_ciphertext_to_another_key_and_context(
    kms: Kms, store: SqliteStore, key: dict[str, Any]
) -> None:
    destination = kms.create_key()
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})["CiphertextBlob"]
    moved = kms(
        "ReEncrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert {name: value for name, value in moved.items() if name != "CiphertextBlob"} == {
        "SourceKeyId": key["Arn"],
        "KeyId": destination["Arn"],
        "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "SourceKeyMaterialId": material_id(store, key["KeyId"], 1),
        "DestinationKeyMaterialId": material_id(store, destination["KeyId"], 1),
    }
    assert CiphertextBlob.decode(moved["CiphertextBlob"]).key_id == destination["KeyId"]
    out = kms("Decrypt", CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert out["Plaintext"] == b"move me"


def test_re_encrypt_under_the_same_key_changes_the_context(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"v": "1"})["CiphertextBlob"]
    moved = kms(
        "ReEncrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        SourceKeyId=key["Arn"],
        DestinationKeyId=key["KeyId"],
        DestinationEncryptionContext={"v": "2"},
    )
    assert kms("Decrypt", CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"v": "2"})["Plaintext"] == b"x"


def test_re_encrypt_picks_up_the_destinations_current_material(kms: Kms, key: dict[str, Any]) -> None:
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms("RotateKeyOnDemand", KeyId=key["KeyId"])
    moved = kms("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=key["KeyId"])
    assert CiphertextBlob.decode(moved["CiphertextBlob"]).material_version == 2


def test_re_encrypt_errors(kms: Kms, key: dict[str, Any], sign_key: str) -> None:
    other = kms.create_key()
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "1"})["CiphertextBlob"]
    good = {"CiphertextBlob": blob, "SourceEncryptionContext": {"a": "1"}, "DestinationKeyId": other["KeyId"]}
    assert refusal(kms, "ReEncrypt", **{**good, "SourceKeyId": other["KeyId"]}) == (
        "IncorrectKeyException",
        INCORRECT_KEY,
    )
    assert refusal(kms, "ReEncrypt", **{**good, "SourceEncryptionContext": {"a": "2"}}) == (
        "InvalidCiphertextException",
        "",
    )
    assert refusal(kms, "ReEncrypt", **{**good, "DestinationKeyId": sign_key}) == (
        "InvalidKeyUsageException",
        f"{sign_key} key usage is SIGN_VERIFY which is not valid for ReEncrypt.",
    )
    assert refusal(kms, "ReEncrypt", **{**good, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}) == (
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.",
    )
    assert refusal(kms, "ReEncrypt", **{**good, "DryRun": True}) == ("DryRunOperationException", DRY_RUN)
    kms("DisableKey", KeyId=other["KeyId"])
    assert refusal(kms, "ReEncrypt", **good) == ("DisabledException", f"{other['Arn']} is disabled.")


def test_re_encrypt_needs_a_ciphertext_unless_a_dry_run_ignores_it(kms: Kms, key: dict[str, Any]) -> None:
    assert refusal(kms, "ReEncrypt", DestinationKeyId=key["KeyId"]) == (
        "ValidationException",
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: "
        "Member must not be null",
    )
    dry = {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"], "DestinationKeyId": key["KeyId"]}
    assert refusal(kms, "ReEncrypt", SourceKeyId=key["KeyId"], **dry) == ("DryRunOperationException", DRY_RUN)
    assert refusal(kms, "ReEncrypt", **dry) == (
        "ValidationException",
        "1 validation error detected: Value null at 'sourceKeyId' failed to satisfy constraint: "
        "Member must not be null",
    )


# --- GenerateDataKey and GenerateDataKeyWithoutPlaintext -----------------------------------------------


@pytest.mark.parametrize(
    ("length_member", "length"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 1024}, 1024),
    ],
)
def test_generate_data_key(
    kms: Kms, store: SqliteStore, key: dict[str, Any], length_member: dict[str, Any], length: int
) -> None:
    response = kms("GenerateDataKey", KeyId=key["KeyId"], EncryptionContext={"c": "d"}, **length_member)
    assert set(response) == {"CiphertextBlob", "Plaintext", "KeyId", "KeyMaterialId"}
    assert len(response["Plaintext"]) == length
    assert response["KeyId"] == key["Arn"]
    assert response["KeyMaterialId"] == material_id(store, key["KeyId"], 1)
    decrypted = kms("Decrypt", CiphertextBlob=response["CiphertextBlob"], EncryptionContext={"c": "d"})
    assert decrypted["Plaintext"] == response["Plaintext"]


def test_generate_data_key_without_plaintext(kms: Kms, key: dict[str, Any]) -> None:
    response = kms("GenerateDataKeyWithoutPlaintext", KeyId=key["KeyId"], KeySpec="AES_128")
    assert set(response) == {"CiphertextBlob", "KeyId", "KeyMaterialId"}
    assert len(kms("Decrypt", CiphertextBlob=response["CiphertextBlob"])["Plaintext"]) == 16


def test_data_keys_are_fresh(kms: Kms, key: dict[str, Any]) -> None:
    first = kms("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    second = kms("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert first != second


@pytest.mark.parametrize("operation", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
@pytest.mark.parametrize("members", [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}], ids=["neither", "both"])
def test_generate_data_key_needs_exactly_one_length(
    kms: Kms, key: dict[str, Any], operation: str, members: dict[str, Any]
) -> None:
    # API reference, GenerateDataKey: "Use either the KeySpec or NumberOfBytes parameters (but not both)."
    kms("DisableKey", KeyId=key["KeyId"])  # the length is checked before the key's state
    assert refusal(kms, operation, KeyId=key["KeyId"], **members) == ("ValidationException", SPECIFY_ONE)


@pytest.mark.parametrize("operation", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
def test_generate_data_key_refusals(kms: Kms, key: dict[str, Any], sign_key: str, rsa_key: str, operation: str) -> None:
    assert refusal(kms, operation, KeyId=sign_key, KeySpec="AES_256") == (
        "InvalidKeyUsageException",
        f"{sign_key} key usage is SIGN_VERIFY which is not valid for {operation}.",
    )
    assert refusal(kms, operation, KeyId=rsa_key, KeySpec="AES_256") == (
        "InvalidKeyUsageException",
        "You cannot generate a data key with an asymmetric CMK",
    )
    assert refusal(kms, operation, KeyId=key["KeyId"], KeySpec="AES_256", DryRun=True) == (
        "DryRunOperationException",
        DRY_RUN,
    )
    kms("DisableKey", KeyId=key["KeyId"])
    assert refusal(kms, operation, KeyId=key["KeyId"], KeySpec="AES_256") == (
        "DisabledException",
        f"{key['Arn']} is disabled.",
    )


# --- GenerateRandom -------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 32, 1024])
def test_generate_random(kms: Kms, length: int) -> None:
    assert len(kms("GenerateRandom", NumberOfBytes=length)["Plaintext"]) == length


def test_generate_random_is_fresh_each_call(kms: Kms) -> None:
    assert kms("GenerateRandom", NumberOfBytes=32) != kms("GenerateRandom", NumberOfBytes=32)


def test_generate_random_errors(kms: Kms) -> None:
    assert refusal(kms, "GenerateRandom") == ("ValidationException", "NumberOfBytes is required.")
    assert refusal(kms, "GenerateRandom", NumberOfBytes=8, CustomKeyStoreId="cks-1234567890abcdef0")[0] == (
        "CustomKeyStoreNotFoundException"
    )
    recipient = {"AttestationDocument": b"doc", "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
    assert refusal(kms, "GenerateRandom", NumberOfBytes=8, Recipient=recipient)[0] == "ValidationException"


def test_a_caller_in_another_account_needs_the_key_arn(kms: Kms, key: dict[str, Any]) -> None:
    # Without an ARN a key id is looked up in the caller's own account (authorization is decided elsewhere).
    stranger = kms.as_caller(caller_for("444455556666"))
    assert refusal(stranger, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x")[0] == "NotFoundException"
