"""GetPublicKey, Sign, Verify and DeriveSharedSecret on the KMS service, checked with `cryptography` alone.

Signatures kmsd makes verify with the public key GetPublicKey returns, and
ECDH secrets equal the one the other party computes; AWS's refusals come in
AWS's order (key state, key usage, algorithm, digest length, DryRun).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils

from kmsd.errors import AwsError
from tests.kms.conftest import Kms

DRY_RUN = "The request would have succeeded, but the DryRun option is set."
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def refusal(kms: Kms, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        kms(operation, **params)
    return raised.value.code, raised.value.message


def public_key(kms: Kms, key_id: str) -> Any:
    return serialization.load_der_public_key(kms("GetPublicKey", KeyId=key_id)["PublicKey"])


def verify_outside(public: Any, algorithm: str, message: bytes, signature: bytes) -> None:
    """Verify a kmsd signature with `cryptography` as any AWS client would."""
    hash_type = _HASHES[algorithm.rsplit("_", 1)[1]]
    if algorithm.startswith("ECDSA"):
        public.verify(signature, message, ec.ECDSA(hash_type()))
    elif algorithm.startswith("RSASSA_PSS"):
        pss = padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=hash_type.digest_size)
        public.verify(signature, message, pss, hash_type())
    else:
        public.verify(signature, message, padding.PKCS1v15(), hash_type())


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "RSASSA_PSS_SHA_384"),
        ("RSA_2048", "RSASSA_PSS_SHA_512"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
        ("RSA_3072", "RSASSA_PSS_SHA_256"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ],
)
def test_signatures_verify_outside_with_the_public_key(kms: Kms, spec: str, algorithm: str) -> None:
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyId"]
    public = public_key(kms, key_id)
    message = b"a message to sign"
    signed = kms("Sign", KeyId=key_id, Message=message, SigningAlgorithm=algorithm)
    assert signed["SigningAlgorithm"] == algorithm
    verify_outside(public, algorithm, message, signed["Signature"])
    assert kms("Verify", KeyId=key_id, Message=message, Signature=signed["Signature"], SigningAlgorithm=algorithm)[
        "SignatureValid"
    ]
    # DIGEST signs the hash as given: the signature verifies against the message it is the hash of, and
    # RAW and DIGEST signatures verify either way ("The message type does not need to be the same").
    digest = hashlib.new("sha" + algorithm.rsplit("_", 1)[1], message).digest()
    by_digest = kms("Sign", KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)
    verify_outside(public, algorithm, message, by_digest["Signature"])
    kms("Verify", KeyId=key_id, Message=message, Signature=by_digest["Signature"], SigningAlgorithm=algorithm)
    kms(
        "Verify",
        KeyId=key_id,
        Message=digest,
        MessageType="DIGEST",
        Signature=signed["Signature"],
        SigningAlgorithm=algorithm,
    )


def test_a_bad_signature_is_kms_invalid_signature(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    signature = kms("Sign", KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    params = {"KeyId": key_id, "Signature": signature, "SigningAlgorithm": "ECDSA_SHA_256"}
    assert refusal(kms, "Verify", Message=b"other", **params)[0] == "KMSInvalidSignatureException"
    assert refusal(kms, "Verify", Message=b"m", **{**params, "Signature": b"\x30\x00"})[0] == (
        "KMSInvalidSignatureException"
    )


def test_a_digest_must_have_the_algorithm_hash_length(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyId"]
    assert refusal(
        kms, "Sign", KeyId=key_id, Message=b"x" * 32, MessageType="DIGEST", SigningAlgorithm="RSASSA_PSS_SHA_384"
    ) == ("ValidationException", "Digest is invalid length for algorithm RSASSA_PSS_SHA_384.")


def test_sign_refusals_follow_aws_order(kms: Kms) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    arn = key["Arn"]
    assert refusal(kms, "Sign", KeyId=arn, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256") == (
        "InvalidKeyUsageException",
        "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.",
    )
    assert refusal(kms, "Sign", KeyId=arn, Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True) == (
        "DryRunOperationException",
        DRY_RUN,
    )
    kms("DisableKey", KeyId=arn)
    assert refusal(kms, "Sign", KeyId=arn, Message=b"m", SigningAlgorithm="ECDSA_SHA_256") == (
        "DisabledException",
        f"{arn} is disabled.",
    )
    assert refusal(kms, "GetPublicKey", KeyId=arn)[0] == "DisabledException"
    symmetric = kms.create_key()["Arn"]
    assert refusal(kms, "Sign", KeyId=symmetric, Message=b"m", SigningAlgorithm="ECDSA_SHA_256") == (
        "InvalidKeyUsageException",
        f"{symmetric} key usage is ENCRYPT_DECRYPT which is not valid for Sign.",
    )


def test_get_public_key_reports_the_usage_and_its_algorithms(kms: Kms) -> None:
    signing = kms.create_key(KeySpec="RSA_4096", KeyUsage="SIGN_VERIFY")["KeyId"]
    response = kms("GetPublicKey", KeyId=signing)
    assert isinstance(serialization.load_der_public_key(response["PublicKey"]), rsa.RSAPublicKey)
    assert response["KeySpec"] == response["CustomerMasterKeySpec"] == "RSA_4096"
    assert response["KeyUsage"] == "SIGN_VERIFY"
    assert "RSASSA_PSS_SHA_256" in response["SigningAlgorithms"]
    assert "EncryptionAlgorithms" not in response
    agreement = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyId"]
    assert kms("GetPublicKey", KeyId=agreement)["KeyAgreementAlgorithms"] == ["ECDH"]
    symmetric = kms.create_key()["Arn"]
    assert refusal(kms, "GetPublicKey", KeyId=symmetric)[0] == "UnsupportedOperationException"


@pytest.mark.parametrize(("spec", "curve"), [("ECC_NIST_P256", ec.SECP256R1()), ("ECC_NIST_P521", ec.SECP521R1())])
def test_derive_shared_secret_matches_the_other_party(kms: Kms, spec: str, curve: ec.EllipticCurve) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")
    ours = public_key(kms, key["KeyId"])
    theirs = ec.generate_private_key(curve)
    their_der = theirs.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    response = kms("DeriveSharedSecret", KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=their_der)
    assert response["SharedSecret"] == theirs.exchange(ec.ECDH(), ours)
    assert (response["KeyId"], response["KeyAgreementAlgorithm"], response["KeyOrigin"]) == (
        key["Arn"],
        "ECDH",
        "AWS_KMS",
    )


def test_derive_shared_secret_refuses_a_key_on_another_curve_and_a_signing_key(kms: Kms) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    code, _ = refusal(kms, "DeriveSharedSecret", KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=der)
    assert code == "ValidationException"
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["Arn"]
    assert refusal(kms, "DeriveSharedSecret", KeyId=signing, KeyAgreementAlgorithm="ECDH", PublicKey=der) == (
        "InvalidKeyUsageException",
        f"{signing} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.",
    )


def test_a_digest_signed_outside_the_service_verifies_inside_only_with_the_right_key(kms: Kms) -> None:
    # A signature by another key never verifies: the check uses the key's own public key.
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    stranger = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(b"m").digest()
    signature = stranger.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    code, _ = refusal(
        kms,
        "Verify",
        KeyId=key_id,
        Message=digest,
        MessageType="DIGEST",
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert code == "KMSInvalidSignatureException"


def test_asymmetric_and_hmac_keys_cannot_rotate(kms: Kms) -> None:
    for spec, usage in (("RSA_2048", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")):
        arn = kms.create_key(KeySpec=spec, KeyUsage=usage)["Arn"]
        assert refusal(kms, "EnableKeyRotation", KeyId=arn) == (
            "UnsupportedOperationException",
            f"{arn} key spec is {spec} which is not valid for this operation.",
        )


@pytest.mark.parametrize("spec", ["ML_DSA_44", "ML_DSA_87"])
def test_ml_dsa_signatures_verify_outside(kms: Kms, spec: str) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")
    assert key["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    assert "CustomerMasterKeySpec" not in key
    public = public_key(kms, key["KeyId"])
    signed = kms("Sign", KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ML_DSA_SHAKE_256")
    public.verify(signed["Signature"], b"m")
    hasher = mldsa.MLDSAMuHasher(public)
    hasher.update(b"m")
    mu = hasher.finalize()
    by_mu = kms("Sign", KeyId=key["KeyId"], Message=mu, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")
    public.verify(by_mu["Signature"], b"m")
    params = {"KeyId": key["KeyId"], "SigningAlgorithm": "ML_DSA_SHAKE_256"}
    assert kms("Verify", Message=b"m", Signature=by_mu["Signature"], **params)["SignatureValid"]
    assert refusal(kms, "Verify", Message=b"x", Signature=by_mu["Signature"], **params)[0] == (
        "KMSInvalidSignatureException"
    )
    assert refusal(kms, "Sign", Message=b"m" * 32, MessageType="DIGEST", **params)[0] == "ValidationException"
    assert refusal(kms, "Sign", Message=b"m" * 32, MessageType="EXTERNAL_MU", **params)[0] == "ValidationException"


def test_external_mu_is_for_ml_dsa_keys_only(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    assert refusal(
        kms, "Sign", KeyId=key_id, Message=b"m" * 64, MessageType="EXTERNAL_MU", SigningAlgorithm="ECDSA_SHA_256"
    ) == ("ValidationException", "MessageType EXTERNAL_MU is not valid for key spec ECC_NIST_P256.")


# --- Edwards25519 (Sign "MessageType": ED25519_SHA_512 requires RAW, ED25519_PH_SHA_512 requires DIGEST) ----------


def test_ed25519_signs_raw_messages_that_verify_outside(kms: Kms) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")
    assert key["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    assert "CustomerMasterKeySpec" not in key
    public = public_key(kms, key["KeyId"])
    assert isinstance(public, ed25519.Ed25519PublicKey)
    signed = kms("Sign", KeyId=key["KeyId"], Message=b"edwards", SigningAlgorithm="ED25519_SHA_512")
    assert len(signed["Signature"]) == 64
    public.verify(signed["Signature"], b"edwards")
    verified = kms(
        "Verify",
        KeyId=key["KeyId"],
        Message=b"edwards",
        Signature=signed["Signature"],
        SigningAlgorithm="ED25519_SHA_512",
    )
    assert verified["SignatureValid"] is True
    assert refusal(
        kms,
        "Verify",
        KeyId=key["KeyId"],
        Message=b"other",
        Signature=signed["Signature"],
        SigningAlgorithm="ED25519_SHA_512",
    )[0] == ("KMSInvalidSignatureException")


def test_ed25519_message_types_and_the_prehashed_algorithm(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyId"]
    digest = hashlib.sha512(b"m").digest()
    assert refusal(
        kms, "Sign", KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_SHA_512"
    ) == ("ValidationException", "Message type DIGEST is incompatible with algorithm ED25519_SHA_512.")
    assert refusal(kms, "Sign", KeyId=key_id, Message=b"m", SigningAlgorithm="ED25519_PH_SHA_512") == (
        "ValidationException",
        "Message type RAW is incompatible with algorithm ED25519_PH_SHA_512.",
    )
    assert refusal(
        kms, "Sign", KeyId=key_id, Message=digest[:32], MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512"
    ) == ("ValidationException", "Digest is invalid length for algorithm ED25519_PH_SHA_512.")
    # `cryptography` has no Ed25519ph: a request that passes every check is refused, never signed wrongly.
    for operation, extra in (("Sign", {}), ("Verify", {"Signature": b"s" * 64})):
        assert refusal(
            kms,
            operation,
            KeyId=key_id,
            Message=digest,
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_PH_SHA_512",
            **extra,
        ) == ("UnsupportedOperationException", "SigningAlgorithm ED25519_PH_SHA_512 is not supported in this Region")
    assert refusal(kms, "Sign", KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256") == (
        "InvalidKeyUsageException",
        "Algorithm ECDSA_SHA_256 is incompatible with key spec ECC_NIST_EDWARDS25519.",
    )
    assert refusal(kms, "Sign", KeyId=key_id, Message=b"m", SigningAlgorithm="ED25519_SHA_512", DryRun=True) == (
        "DryRunOperationException",
        DRY_RUN,
    )
