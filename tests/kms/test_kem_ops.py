"""Encapsulate and Decapsulate with ML-KEM keys on the KMS service, checked with `cryptography` alone.

A secret encapsulated outside with the public key GetPublicKey returns is the
one Decapsulate recovers, and Encapsulate's secret is the one its ciphertext
decapsulates to; AWS's refusals come in AWS's order (key state, key usage,
ciphertext length, DryRun), and FIPS 203's implicit rejection answers an
altered ciphertext with another secret rather than an error.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from kmsd.errors import AwsError
from tests.kms.conftest import Kms

DRY_RUN = "The request would have succeeded, but the DryRun option is set."


def refusal(kms: Kms, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        kms(operation, **params)
    return raised.value.code, raised.value.message


@pytest.mark.parametrize(("spec", "ciphertext_bytes"), [("ML_KEM_768", 1088), ("ML_KEM_1024", 1568)])
def test_secrets_agree_inside_and_outside(kms: Kms, spec: str, ciphertext_bytes: int) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")
    assert key["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert "CustomerMasterKeySpec" not in key and "EncryptionAlgorithms" not in key
    published = kms("GetPublicKey", KeyId=key["KeyId"])
    assert published["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert published["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    public = serialization.load_der_public_key(published["PublicKey"])
    assert isinstance(public, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey))
    secret, ciphertext = public.encapsulate()
    recovered = kms(
        "Decapsulate", KeyId=key["KeyId"], SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert recovered == {"KeyId": key["Arn"], "SharedSecret": secret, "EncapsulationAlgorithm": "ML_KEM"}
    made = kms("Encapsulate", KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert (made["KeyId"], made["EncapsulationAlgorithm"]) == (key["Arn"], "ML_KEM")
    assert len(made["SharedSecret"]) == 32 and len(made["SharedSecretCiphertextBlob"]) == ciphertext_bytes
    again = kms(
        "Decapsulate",
        KeyId=key["KeyId"],
        SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert again["SharedSecret"] == made["SharedSecret"]


def test_decapsulate_answers_only_a_wrong_length_with_an_error(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyId"]
    made = kms("Encapsulate", KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    ciphertext = made["SharedSecretCiphertextBlob"]
    altered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    # Decapsulate API reference: implicit rejection, "a 32-byte pseudo-random value".
    other = kms("Decapsulate", KeyId=key_id, SharedSecretCiphertextBlob=altered, EncapsulationAlgorithm="ML_KEM")
    assert len(other["SharedSecret"]) == 32 and other["SharedSecret"] != made["SharedSecret"]
    for wrong in (ciphertext[:-1], ciphertext + b"\0", b"\0" * 1568):
        assert refusal(
            kms, "Decapsulate", KeyId=key_id, SharedSecretCiphertextBlob=wrong, EncapsulationAlgorithm="ML_KEM"
        ) == (
            "InvalidCiphertextException",
            "",
        )


def test_refusals_follow_aws_order(kms: Kms) -> None:
    key = kms.create_key(KeySpec="ML_KEM_1024", KeyUsage="ENCAPSULATE_DECAPSULATE")
    ciphertext = kms("Encapsulate", KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    decapsulate = {"KeyId": key["KeyId"], "SharedSecretCiphertextBlob": ciphertext, "EncapsulationAlgorithm": "ML_KEM"}
    assert refusal(kms, "Encapsulate", KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM", DryRun=True) == (
        "DryRunOperationException",
        DRY_RUN,
    )
    assert refusal(kms, "Decapsulate", **decapsulate, DryRun=True) == ("DryRunOperationException", DRY_RUN)
    # A dry run still checks the ciphertext's length.
    short = {**decapsulate, "SharedSecretCiphertextBlob": ciphertext[:10]}
    assert refusal(kms, "Decapsulate", **short, DryRun=True)[0] == "InvalidCiphertextException"
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert refusal(kms, "Encapsulate", KeyId=rsa_key["KeyId"], EncapsulationAlgorithm="ML_KEM") == (
        "InvalidKeyUsageException",
        f"{rsa_key['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Encapsulate.",
    )
    assert refusal(kms, "Decapsulate", **{**decapsulate, "KeyId": rsa_key["KeyId"]})[0] == "InvalidKeyUsageException"
    # An ML-KEM key does nothing else.
    assert refusal(kms, "Encrypt", KeyId=key["KeyId"], Plaintext=b"x")[0] == "InvalidKeyUsageException"
    assert refusal(kms, "Sign", KeyId=key["KeyId"], Message=b"x", SigningAlgorithm="ML_DSA_SHAKE_256")[0] == (
        "InvalidKeyUsageException"
    )
    kms("DisableKey", KeyId=key["KeyId"])
    assert refusal(kms, "Encapsulate", KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM") == (
        "DisabledException",
        f"{key['Arn']} is disabled.",
    )
    assert refusal(kms, "Decapsulate", **decapsulate)[0] == "DisabledException"
    kms("EnableKey", KeyId=key["KeyId"])
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    assert refusal(kms, "Decapsulate", **decapsulate) == (
        "KMSInvalidStateException",
        f"{key['Arn']} is pending deletion.",
    )


def test_grants_on_ml_kem_keys_allow_only_what_the_key_does(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyId"]
    grantee = "arn:aws:iam::111122223333:root"
    kms(
        "CreateGrant", KeyId=key_id, GranteePrincipal=grantee, Operations=["Encapsulate", "Decapsulate", "GetPublicKey"]
    )
    assert refusal(kms, "CreateGrant", KeyId=key_id, GranteePrincipal=grantee, Operations=["Decrypt"]) == (
        "ValidationException",
        "Grant operations [Decrypt] are not supported for a KMS key with KeySpec ML_KEM_768 and KeyUsage "
        "ENCAPSULATE_DECAPSULATE.",
    )


def test_ml_kem_keys_cannot_rotate(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyId"]
    assert refusal(kms, "EnableKeyRotation", KeyId=key_id)[0] == "UnsupportedOperationException"


def test_ml_kem_and_edwards25519_keys_can_be_multi_region(kms: Kms) -> None:
    # "Multi-Region keys": asymmetric keys can be multi-Region.
    signing = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY", MultiRegion=True)
    assert signing["KeyId"].startswith("mrk-") and signing["MultiRegion"] is True
    kem = kms.create_key(KeySpec="ML_KEM_1024", KeyUsage="ENCAPSULATE_DECAPSULATE", MultiRegion=True)
    assert kem["KeyId"].startswith("mrk-") and kem["MultiRegion"] is True
    made = kms("Encapsulate", KeyId=kem["KeyId"], EncapsulationAlgorithm="ML_KEM")
    recovered = kms(
        "Decapsulate",
        KeyId=kem["Arn"],
        SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert recovered["SharedSecret"] == made["SharedSecret"]
