"""Encrypt and Decrypt with RSA keys: RSAES-OAEP ciphertexts made outside with the public key decrypt in
kmsd and kmsd's decrypt outside, AWS's plaintext limits per key size, and no encryption context."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmsd.errors import AwsError
from tests.kms.conftest import Kms

_OAEP = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}


def refusal(kms: Kms, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        kms(operation, **params)
    return raised.value.code, raised.value.message


def oaep(algorithm: str) -> padding.OAEP:
    hash_type = _OAEP[algorithm]
    return padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)


@pytest.fixture
def rsa_key(kms: Kms) -> dict[str, Any]:
    return kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_ciphertexts_cross_between_kmsd_and_the_public_key(kms: Kms, rsa_key: dict[str, Any], algorithm: str) -> None:
    assert rsa_key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    public = serialization.load_der_public_key(kms("GetPublicKey", KeyId=rsa_key["KeyId"])["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    outside = public.encrypt(b"made outside", oaep(algorithm))
    decrypted = kms("Decrypt", KeyId=rsa_key["KeyId"], CiphertextBlob=outside, EncryptionAlgorithm=algorithm)
    assert decrypted == {"KeyId": rsa_key["Arn"], "Plaintext": b"made outside", "EncryptionAlgorithm": algorithm}
    encrypted = kms("Encrypt", KeyId=rsa_key["KeyId"], Plaintext=b"made inside", EncryptionAlgorithm=algorithm)
    assert (encrypted["KeyId"], encrypted["EncryptionAlgorithm"]) == (rsa_key["Arn"], algorithm)
    assert len(encrypted["CiphertextBlob"]) == 256
    again = kms(
        "Decrypt", KeyId=rsa_key["KeyId"], CiphertextBlob=encrypted["CiphertextBlob"], EncryptionAlgorithm=algorithm
    )
    assert again["Plaintext"] == b"made inside"


@pytest.mark.parametrize(
    ("spec", "algorithm", "limit"),
    [
        ("RSA_2048", "RSAES_OAEP_SHA_1", 214),
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_3072", "RSAES_OAEP_SHA_256", 318),
    ],
)
def test_plaintext_limits_per_key_size(kms: Kms, spec: str, algorithm: str, limit: int) -> None:
    key_id = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyId"]
    blob = kms("Encrypt", KeyId=key_id, Plaintext=b"p" * limit, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
    assert kms("Decrypt", KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm=algorithm)["Plaintext"] == b"p" * limit
    code, _ = refusal(kms, "Encrypt", KeyId=key_id, Plaintext=b"p" * (limit + 1), EncryptionAlgorithm=algorithm)
    assert code == "ValidationException"


def test_no_encryption_context_and_opaque_failures(kms: Kms, rsa_key: dict[str, Any]) -> None:
    key_id = rsa_key["KeyId"]
    alg = "RSAES_OAEP_SHA_256"
    assert refusal(
        kms, "Encrypt", KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm=alg, EncryptionContext={"a": "b"}
    ) == (
        "ValidationException",
        "EncryptionContext is not supported for asymmetric KMS keys.",
    )
    blob = kms("Encrypt", KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm=alg)["CiphertextBlob"]
    # The wrong OAEP hash, a tampered ciphertext, and a ciphertext without its KeyId all fail alike.
    assert refusal(kms, "Decrypt", KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1") == (
        "InvalidCiphertextException",
        "",
    )
    tampered = bytes([blob[0] ^ 1]) + blob[1:]
    assert refusal(kms, "Decrypt", KeyId=key_id, CiphertextBlob=tampered, EncryptionAlgorithm=alg)[0] == (
        "InvalidCiphertextException"
    )
    assert refusal(kms, "Decrypt", CiphertextBlob=blob, EncryptionAlgorithm=alg)[0] == "InvalidCiphertextException"
    assert refusal(kms, "Decrypt", KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm=alg, DryRun=True)[0] == (
        "DryRunOperationException"
    )
    kms("DisableKey", KeyId=key_id)
    assert refusal(kms, "Decrypt", KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm=alg)[0] == "DisabledException"


def test_rsa_keys_do_not_generate_data_keys(kms: Kms, rsa_key: dict[str, Any]) -> None:
    assert refusal(kms, "GenerateDataKey", KeyId=rsa_key["KeyId"], KeySpec="AES_256")[0] == "InvalidKeyUsageException"


# --- ReEncrypt from and to RSA keys (ReEncrypt API reference) ----------------------------------------------


def test_re_encrypt_from_symmetric_to_rsa_and_back(kms: Kms, rsa_key: dict[str, Any]) -> None:
    symmetric = kms.create_key()
    blob = kms("Encrypt", KeyId=symmetric["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    to_rsa = kms(
        "ReEncrypt",
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=rsa_key["KeyId"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    # The KeyMaterialIds are "present only when" that side is a symmetric encryption key.
    assert set(to_rsa) == {
        "CiphertextBlob",
        "SourceKeyId",
        "KeyId",
        "SourceEncryptionAlgorithm",
        "DestinationEncryptionAlgorithm",
        "SourceKeyMaterialId",
    }
    assert (to_rsa["KeyId"], to_rsa["SourceEncryptionAlgorithm"]) == (rsa_key["Arn"], "SYMMETRIC_DEFAULT")
    # The ciphertext is bare RSAES-OAEP: the private key opens it (through kmsd) like any RSA ciphertext.
    opened = kms(
        "Decrypt",
        KeyId=rsa_key["KeyId"],
        CiphertextBlob=to_rsa["CiphertextBlob"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert opened["Plaintext"] == b"move me"
    back = kms(
        "ReEncrypt",
        CiphertextBlob=to_rsa["CiphertextBlob"],
        SourceKeyId=rsa_key["Arn"],
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
        DestinationKeyId=symmetric["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert "SourceKeyMaterialId" not in back and back["DestinationKeyMaterialId"]
    assert back["SourceKeyId"] == rsa_key["Arn"]
    plain = kms("Decrypt", CiphertextBlob=back["CiphertextBlob"], EncryptionContext={"b": "2"})["Plaintext"]
    assert plain == b"move me"


def test_re_encrypt_between_rsa_keys_with_a_ciphertext_made_outside(kms: Kms, rsa_key: dict[str, Any]) -> None:
    other = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")
    public = serialization.load_der_public_key(kms("GetPublicKey", KeyId=rsa_key["KeyId"])["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    outside = public.encrypt(b"rsa to rsa", oaep("RSAES_OAEP_SHA_1"))
    moved = kms(
        "ReEncrypt",
        CiphertextBlob=outside,
        SourceKeyId=rsa_key["KeyId"],
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1",
        DestinationKeyId=other["KeyId"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert len(moved["CiphertextBlob"]) == 384
    assert "SourceKeyMaterialId" not in moved and "DestinationKeyMaterialId" not in moved
    opened = kms(
        "Decrypt",
        KeyId=other["KeyId"],
        CiphertextBlob=moved["CiphertextBlob"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert opened["Plaintext"] == b"rsa to rsa"


def test_re_encrypt_with_rsa_keys_refuses_what_aws_refuses(kms: Kms, rsa_key: dict[str, Any]) -> None:
    symmetric = kms.create_key()["KeyId"]
    rsa_id, alg = rsa_key["KeyId"], "RSAES_OAEP_SHA_256"
    sealed = kms("Encrypt", KeyId=rsa_id, Plaintext=b"x" * 100, EncryptionAlgorithm=alg)["CiphertextBlob"]
    from_rsa = {"CiphertextBlob": sealed, "SourceKeyId": rsa_id, "DestinationKeyId": symmetric}
    # The source algorithm defaults to SYMMETRIC_DEFAULT, which an RSA key cannot use.
    assert refusal(kms, "ReEncrypt", **from_rsa) == (
        "InvalidKeyUsageException",
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    )
    from_rsa["SourceEncryptionAlgorithm"] = alg
    assert refusal(kms, "ReEncrypt", **from_rsa, SourceEncryptionContext={"a": "b"}) == (
        "ValidationException",
        "EncryptionContext is not supported for asymmetric KMS keys.",
    )
    # Without SourceKeyId the bare RSA ciphertext names no key: it cannot be decrypted.
    no_source = {k: v for k, v in from_rsa.items() if k != "SourceKeyId"}
    assert refusal(kms, "ReEncrypt", **no_source)[0] == "InvalidCiphertextException"
    assert refusal(kms, "ReEncrypt", **{**from_rsa, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}) == (
        "InvalidCiphertextException",
        "",
    )
    assert refusal(kms, "ReEncrypt", **from_rsa, DryRun=True)[0] == "DryRunOperationException"
    # To an RSA key: its algorithm is required, no context, and the plaintext must fit its OAEP limit.
    blob = kms("Encrypt", KeyId=symmetric, Plaintext=b"y" * 191)["CiphertextBlob"]
    to_rsa = {"CiphertextBlob": blob, "DestinationKeyId": rsa_id}
    assert refusal(kms, "ReEncrypt", **to_rsa)[0] == "InvalidKeyUsageException"
    assert refusal(
        kms, "ReEncrypt", **to_rsa, DestinationEncryptionAlgorithm=alg, DestinationEncryptionContext={"a": "b"}
    )[0] == ("ValidationException")
    assert refusal(kms, "ReEncrypt", **to_rsa, DestinationEncryptionAlgorithm=alg) == (
        "ValidationException",
        "Plaintext is too long: RSAES_OAEP_SHA_256 with key spec RSA_2048 takes at most 190 bytes.",
    )
    kms("DisableKey", KeyId=rsa_id)
    assert refusal(kms, "ReEncrypt", **from_rsa)[0] == "DisabledException"


def test_a_dry_run_from_an_rsa_key_may_ignore_the_ciphertext(kms: Kms, rsa_key: dict[str, Any]) -> None:
    symmetric = kms.create_key()["KeyId"]
    dry = {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"], "DestinationKeyId": symmetric}
    assert refusal(
        kms, "ReEncrypt", **dry, SourceKeyId=rsa_key["KeyId"], SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1"
    ) == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
