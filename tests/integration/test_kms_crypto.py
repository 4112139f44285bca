"""Encrypt, Decrypt, ReEncrypt, data keys and randomness through boto3 against a real server process."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_errors import error_of


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    return dict(kms.create_key(Description="crypto")["KeyMetadata"])


def test_encrypt_decrypt_with_context(kms: Any, key: dict[str, Any]) -> None:
    context = {"tenant": "t-42", "purpose": "test"}
    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret data", EncryptionContext=context)
    assert encrypted["KeyId"] == key["Arn"]
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=context)
    assert decrypted["Plaintext"] == b"secret data"
    assert decrypted["KeyId"] == key["Arn"]
    for wrong in ({}, {"tenant": "t-43", "purpose": "test"}, {"tenant": "t-42"}):
        with pytest.raises(ClientError) as excinfo:
            kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=wrong)
        assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_context_encoding_does_not_collide(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"ab": "c"})["CiphertextBlob"]
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "bc"})
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_decrypt_with_wrong_key_id(kms: Any, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert error_of(excinfo)[0] == "IncorrectKeyException"
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key["Arn"])["Plaintext"] == b"x"


def test_tampered_ciphertext(kms: Any, key: dict[str, Any]) -> None:
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"])
    blob[-1] ^= 1
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_plaintext_limit(kms: Any, key: dict[str, Any]) -> None:
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x" * 4096)
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x" * 4097)
    assert error_of(excinfo) == (
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096",
        400,
    )


def test_reencrypt(kms: Any, key: dict[str, Any]) -> None:
    destination = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})["CiphertextBlob"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert moved["SourceKeyId"] == key["Arn"]
    assert moved["KeyId"] == destination["Arn"]
    out = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert out["Plaintext"] == b"move me"


def test_generate_data_key(kms: Any, key: dict[str, Any]) -> None:
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    without = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    assert "Plaintext" not in without
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 16
    with pytest.raises(ClientError) as excinfo:
        kms.generate_data_key(KeyId=key["KeyId"])
    assert error_of(excinfo)[0] == "ValidationException"


def test_generate_random(kms: Any) -> None:
    first = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(first) == 32 and first != second
    with pytest.raises(ClientError) as excinfo:
        kms.generate_random(NumberOfBytes=1025)
    assert error_of(excinfo)[0] == "ValidationException"
