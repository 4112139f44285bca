"""GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext on the KMS service.

The private key is PKCS#8 DER that Decrypt returns from PrivateKeyCiphertextBlob (with the same
encryption context), it matches the DER SubjectPublicKeyInfo (a signature made with one verifies
with the other, checked with `cryptography`), and AWS's refusals come in AWS's order (Recipient,
key state, key usage, unsupported spec, DryRun).
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mlkem, padding, rsa

from kmsd.errors import AwsError
from tests.kms.conftest import Kms

DRY_RUN = "The request would have succeeded, but the DryRun option is set."


def refusal(kms: Kms, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        kms(operation, **params)
    return raised.value.code, raised.value.message


def sign_and_verify(private: Any, public: Any) -> None:
    """A signature made with the private key verifies with the public key."""
    message = b"data key pair"
    if isinstance(private, rsa.RSAPrivateKey):
        signature = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        signature = private.sign(message, ec.ECDSA(hashes.SHA256()))
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        public.verify(private.sign(message), message)
    else:
        assert isinstance(private, (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey))
        secret, ciphertext = public.encapsulate()
        assert private.decapsulate(ciphertext) == secret


@pytest.mark.parametrize(
    "spec",
    [
        "RSA_2048",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
        "ML_KEM_768",
        "ML_KEM_1024",
    ],
)
def test_the_pair_matches_and_decrypts(kms: Kms, spec: str) -> None:
    key = kms.create_key()
    context = {"purpose": "test"}
    pair = kms("GenerateDataKeyPair", KeyId=key["KeyId"], KeyPairSpec=spec, EncryptionContext=context)
    assert pair["KeyId"] == key["Arn"]
    assert pair["KeyPairSpec"] == spec
    assert pair["KeyMaterialId"]
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(pair["PublicKey"])
    sign_and_verify(private, public)
    opened = kms("Decrypt", CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == pair["PrivateKeyPlaintext"]
    assert opened["KeyId"] == key["Arn"]
    # The encryption context binds the blob, as it binds Encrypt's.
    assert refusal(kms, "Decrypt", CiphertextBlob=pair["PrivateKeyCiphertextBlob"])[0] == "InvalidCiphertextException"


def test_without_plaintext(kms: Kms) -> None:
    key = kms.create_key()
    pair = kms("GenerateDataKeyPairWithoutPlaintext", KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    assert "PrivateKeyPlaintext" not in pair
    assert set(pair) == {"PrivateKeyCiphertextBlob", "PublicKey", "KeyId", "KeyPairSpec", "KeyMaterialId"}
    private = serialization.load_der_private_key(
        kms("Decrypt", CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"], password=None
    )
    sign_and_verify(private, serialization.load_der_public_key(pair["PublicKey"]))


def test_refusals_in_aws_order(kms: Kms) -> None:
    key = kms.create_key()
    arn = key["Arn"]
    for operation in ("GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"):
        assert refusal(kms, operation, KeyId=arn, KeyPairSpec="SM2") == (
            "UnsupportedOperationException",
            "KeyPairSpec SM2 is not supported in this Region",
        )
        assert refusal(kms, operation, KeyId=arn, KeyPairSpec="RSA_2048", DryRun=True) == (
            "DryRunOperationException",
            DRY_RUN,
        )
    assert refusal(kms, "GenerateDataKeyPair", KeyId=arn, KeyPairSpec="ML_KEM_512")[0] == (
        "UnsupportedOperationException"
    )
    # Recipient's attestation document (Nitro Enclaves) is checked before the key is looked up.
    recipient = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"doc"}
    assert refusal(kms, "GenerateDataKeyPair", KeyId="alias/none", KeyPairSpec="RSA_2048", Recipient=recipient)[0] == (
        "ValidationException"
    )
    assert refusal(kms, "GenerateDataKeyPair", KeyId="alias/none", KeyPairSpec="RSA_2048")[0] == "NotFoundException"
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["Arn"]
    assert refusal(kms, "GenerateDataKeyPair", KeyId=signing, KeyPairSpec="RSA_2048") == (
        "InvalidKeyUsageException",
        f"{signing} key usage is SIGN_VERIFY which is not valid for GenerateDataKeyPair.",
    )
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["Arn"]
    assert refusal(kms, "GenerateDataKeyPairWithoutPlaintext", KeyId=rsa_key, KeyPairSpec="RSA_2048")[0] == (
        "InvalidKeyUsageException"
    )
    kms("DisableKey", KeyId=key["KeyId"])
    # The key's state answers before the spec and DryRun.
    assert refusal(kms, "GenerateDataKeyPair", KeyId=arn, KeyPairSpec="SM2", DryRun=True) == (
        "DisabledException",
        f"{arn} is disabled.",
    )
