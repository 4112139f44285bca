"""Asymmetric keys through boto3 against a real ``kmsd serve``: what kmsd signs verifies with `cryptography`
from GetPublicKey alone, RSA ciphertexts made outside decrypt, ECDH secrets agree, and the calls are
authorized as AWS authorizes them (a denied Sign with AWS's text, and a grant that allows it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

from tests.integration.authz_world import (
    DENY_IN_IDENTITY_POLICY,
    NO_IDENTITY_POLICY,
    World,
    allow,
    denied,
    deny,
    refused,
    running_world,
)
from tests.integration.stores import Stores


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("kms-asymmetric")) as built:
        yield built


def new_key(world: World, spec: str, usage: str) -> dict[str, Any]:
    return dict(world.a.kms().create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"])


def public_key_of(kms: Any, key_id: str) -> Any:
    return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ],
)
def test_signatures_verify_outside(world: World, spec: str, algorithm: str) -> None:
    kms = world.a.kms()
    key = new_key(world, spec, "SIGN_VERIFY")
    assert algorithm in key["SigningAlgorithms"]
    public = public_key_of(kms, key["KeyId"])
    message = b"sign me through boto3"
    signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm=algorithm)["Signature"]
    hash_type = {"256": hashes.SHA256, "384": hashes.SHA384}[algorithm[-3:]]
    if algorithm.startswith("ECDSA"):
        public.verify(signature, message, ec.ECDSA(hash_type()))
    elif algorithm.startswith("RSASSA_PSS"):
        public.verify(signature, message, padding.PSS(padding.MGF1(hash_type()), hash_type.digest_size), hash_type())
    else:
        public.verify(signature, message, padding.PKCS1v15(), hash_type())
    digest = hashlib.new("sha" + algorithm[-3:], message).digest()
    verified = kms.verify(
        KeyId=key["KeyId"], Message=digest, MessageType="DIGEST", Signature=signature, SigningAlgorithm=algorithm
    )
    assert verified["SignatureValid"] is True
    assert (
        refused(kms.verify, KeyId=key["KeyId"], Message=b"other", Signature=signature, SigningAlgorithm=algorithm)[0]
        == "KMSInvalidSignatureException"
    )


def test_rsa_ciphertexts_made_outside_decrypt(world: World) -> None:
    kms = world.a.kms()
    key = new_key(world, "RSA_2048", "ENCRYPT_DECRYPT")
    public = public_key_of(kms, key["KeyId"])
    sealed = public.encrypt(b"to kmsd", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    opened = kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=sealed, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert opened["Plaintext"] == b"to kmsd"
    # "Asymmetric key specs": RSAES_OAEP_SHA_1 with RSA_2048 takes at most 214 bytes.
    kms.encrypt(KeyId=key["Arn"], Plaintext=b"x" * 214, EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert refused(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x" * 215, EncryptionAlgorithm="RSAES_OAEP_SHA_1")[0] == (
        "ValidationException"
    )


def test_ecdh_secret_matches(world: World) -> None:
    kms = world.a.kms()
    key = new_key(world, "ECC_NIST_P256", "KEY_AGREEMENT")
    theirs = ec.generate_private_key(ec.SECP256R1())
    der = theirs.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    derived = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=der)
    assert derived["SharedSecret"] == theirs.exchange(ec.ECDH(), public_key_of(kms, key["KeyId"]))
    assert derived["KeyOrigin"] == "AWS_KMS"


def test_create_key_validation(world: World) -> None:
    kms = world.a.kms()
    assert refused(kms.create_key, KeySpec="ECC_NIST_P256", KeyUsage="ENCRYPT_DECRYPT")[:2] == (
        "ValidationException",
        "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256",
    )
    # AWS offers SM2 in the China Regions only, and `cryptography` has no SM2: unavailable in this Region.
    for usage in ("SIGN_VERIFY", "ENCRYPT_DECRYPT", "KEY_AGREEMENT"):
        assert refused(kms.create_key, KeySpec="SM2", KeyUsage=usage)[:2] == (
            "UnsupportedOperationException",
            "KeySpec SM2 is not supported in this Region",
        )
    arn = new_key(world, "RSA_2048", "SIGN_VERIFY")["Arn"]
    assert refused(kms.enable_key_rotation, KeyId=arn)[0] == "UnsupportedOperationException"


def test_sign_is_denied_with_aws_text_and_allowed_by_a_grant(world: World) -> None:
    key = new_key(world, "ECC_NIST_P256", "SIGN_VERIFY")
    user = world.a.user()
    kms = user.kms()
    sign = {"KeyId": key["Arn"], "Message": b"m", "SigningAlgorithm": "ECDSA_SHA_256"}
    assert refused(kms.sign, **sign) == denied(user.arn, "kms:Sign", key["Arn"], NO_IDENTITY_POLICY)
    assert refused(kms.get_public_key, KeyId=key["Arn"]) == denied(
        user.arn, "kms:GetPublicKey", key["Arn"], NO_IDENTITY_POLICY
    )
    token = world.a.kms().create_grant(
        KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Sign", "GetPublicKey"]
    )["GrantToken"]
    signature = kms.sign(**sign, GrantTokens=[token])["Signature"]
    public = public_key_of(world.a.kms(), key["KeyId"])
    public.verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
    # The grant names Sign, not Verify.
    assert refused(kms.verify, **sign, Signature=signature, GrantTokens=[token]) == denied(
        user.arn, "kms:Verify", key["Arn"], NO_IDENTITY_POLICY
    )
    # AWS: grants for asymmetric keys cannot allow operations the key cannot do.
    assert (
        refused(world.a.kms().create_grant, KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Encrypt"])[0]
        == "ValidationException"
    )


def test_condition_keys_of_the_new_operations(world: World) -> None:
    # "AWS KMS condition keys": kms:SigningAlgorithm and kms:MessageType (Sign, Verify), kms:MacAlgorithm
    # (GenerateMac, VerifyMac), kms:KeyAgreementAlgorithm (DeriveSharedSecret), kms:EncryptionAlgorithm.
    signing = new_key(world, "ECC_NIST_P256", "SIGN_VERIFY")
    hmac_key = world.a.kms().create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    rsa_key = new_key(world, "RSA_2048", "ENCRYPT_DECRYPT")
    user = world.a.user(
        allow("kms:Sign", condition={"StringEquals": {"kms:MessageType": "DIGEST"}}),
        allow("kms:GenerateMac", condition={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}),
        allow("kms:Encrypt", condition={"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}),
        deny("kms:Sign", condition={"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_384"}}),
    )
    kms = user.kms()
    digest = hashlib.sha256(b"m").digest()
    kms.sign(KeyId=signing["Arn"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    assert refused(kms.sign, KeyId=signing["Arn"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256") == denied(
        user.arn, "kms:Sign", signing["Arn"], NO_IDENTITY_POLICY
    )
    # The decision comes before the key's algorithms are checked: the Deny on the algorithm answers first.
    sha384 = hashlib.sha384(b"m").digest()
    assert refused(
        kms.sign, KeyId=signing["Arn"], Message=sha384, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_384"
    ) == denied(user.arn, "kms:Sign", signing["Arn"], DENY_IN_IDENTITY_POLICY)
    kms.generate_mac(KeyId=hmac_key["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    kms.encrypt(KeyId=rsa_key["Arn"], Plaintext=b"m", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert refused(kms.encrypt, KeyId=rsa_key["Arn"], Plaintext=b"m", EncryptionAlgorithm="RSAES_OAEP_SHA_1")[0] == (
        "AccessDeniedException"
    )


def test_ed25519_signatures_verify_outside(world: World) -> None:
    kms = world.a.kms()
    key = new_key(world, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    assert key["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    assert "CustomerMasterKeySpec" not in key
    public = public_key_of(kms, key["KeyId"])
    assert isinstance(public, ed25519.Ed25519PublicKey)
    message = b"an Edwards25519 signature through boto3"
    signature = kms.sign(KeyId=key["Arn"], Message=message, SigningAlgorithm="ED25519_SHA_512")["Signature"]
    public.verify(signature, message)
    verified = kms.verify(KeyId=key["Arn"], Message=message, Signature=signature, SigningAlgorithm="ED25519_SHA_512")
    assert verified["SignatureValid"] is True
    # Sign "MessageType": ED25519_SHA_512 requires RAW, ED25519_PH_SHA_512 requires DIGEST.
    digest = hashlib.sha512(message).digest()
    assert refused(
        kms.sign, KeyId=key["Arn"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_SHA_512"
    )[:2] == ("ValidationException", "Message type DIGEST is incompatible with algorithm ED25519_SHA_512.")
    # `cryptography` has no Ed25519ph: kmsd refuses ED25519_PH_SHA_512 rather than sign something else.
    assert refused(
        kms.sign, KeyId=key["Arn"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512"
    )[0] == ("UnsupportedOperationException")
    assert refused(kms.create_key, KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="KEY_AGREEMENT")[0] == (
        "ValidationException"
    )
    pair = kms.generate_data_key_pair(
        KeyId=kms.create_key()["KeyMetadata"]["KeyId"], KeyPairSpec="ECC_NIST_EDWARDS25519"
    )
    assert pair["KeyPairSpec"] == "ECC_NIST_EDWARDS25519"


def test_re_encrypt_from_and_to_rsa_keys(world: World) -> None:
    kms = world.a.kms()
    rsa_key = new_key(world, "RSA_2048", "ENCRYPT_DECRYPT")
    symmetric = kms.create_key()["KeyMetadata"]
    # A ciphertext made outside with the public key moves under a symmetric key, then back under RSA.
    public = public_key_of(kms, rsa_key["KeyId"])
    outside = public.encrypt(b"re-encrypt me", padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
    moved = kms.re_encrypt(
        CiphertextBlob=outside,
        SourceKeyId=rsa_key["Arn"],
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1",
        DestinationKeyId=symmetric["KeyId"],
        DestinationEncryptionContext={"purpose": "test"},
    )
    assert moved["SourceKeyId"] == rsa_key["Arn"] and "SourceKeyMaterialId" not in moved
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"purpose": "test"})["Plaintext"] == (
        b"re-encrypt me"
    )
    back = kms.re_encrypt(
        CiphertextBlob=moved["CiphertextBlob"],
        SourceEncryptionContext={"purpose": "test"},
        DestinationKeyId=rsa_key["Arn"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert back["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256" and "DestinationKeyMaterialId" not in back
    opened = kms.decrypt(
        KeyId=rsa_key["Arn"], CiphertextBlob=back["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert opened["Plaintext"] == b"re-encrypt me"
    # No encryption context with an asymmetric key, and the destination's OAEP limit holds.
    assert refused(
        kms.re_encrypt,
        CiphertextBlob=moved["CiphertextBlob"],
        SourceEncryptionContext={"purpose": "test"},
        DestinationKeyId=rsa_key["Arn"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
        DestinationEncryptionContext={"a": "b"},
    )[:2] == ("ValidationException", "EncryptionContext is not supported for asymmetric KMS keys.")
    big = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"x" * 215)["CiphertextBlob"]
    assert refused(
        kms.re_encrypt,
        CiphertextBlob=big,
        DestinationKeyId=rsa_key["Arn"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1",
    )[0] == ("ValidationException")


def test_re_encrypt_to_rsa_is_decided_on_the_destination_algorithm_and_a_grant_allows_it(world: World) -> None:
    rsa_key = new_key(world, "RSA_2048", "ENCRYPT_DECRYPT")
    symmetric = world.a.kms().create_key()["KeyMetadata"]
    blob = world.a.kms().encrypt(KeyId=symmetric["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    # "kms:EncryptionAlgorithm" for ReEncryptTo is the DestinationEncryptionAlgorithm.
    user = world.a.user(
        allow("kms:ReEncryptFrom", symmetric["Arn"]),
        allow("kms:ReEncryptTo", condition={"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}),
    )
    kms = user.kms()
    to_rsa = {"CiphertextBlob": blob, "DestinationKeyId": rsa_key["Arn"]}
    kms.re_encrypt(**to_rsa, DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert refused(kms.re_encrypt, **to_rsa, DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1") == denied(
        user.arn, "kms:ReEncryptTo", rsa_key["Arn"], NO_IDENTITY_POLICY
    )
    # A user with no identity policy: denied with AWS's text, then a grant for each key allows it.
    other = world.a.user()
    source = {
        "CiphertextBlob": blob,
        "DestinationKeyId": rsa_key["Arn"],
        "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
    }
    assert refused(other.kms().re_encrypt, **source) == denied(
        other.arn, "kms:ReEncryptFrom", symmetric["Arn"], NO_IDENTITY_POLICY
    )
    tokens = [
        world.a.kms().create_grant(KeyId=symmetric["KeyId"], GranteePrincipal=other.arn, Operations=["ReEncryptFrom"])[
            "GrantToken"
        ],
        world.a.kms().create_grant(KeyId=rsa_key["KeyId"], GranteePrincipal=other.arn, Operations=["ReEncryptTo"])[
            "GrantToken"
        ],
    ]
    moved = other.kms().re_encrypt(**source, GrantTokens=tokens)
    opened = world.a.kms().decrypt(
        KeyId=rsa_key["KeyId"], CiphertextBlob=moved["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_1"
    )
    assert opened["Plaintext"] == b"p"
