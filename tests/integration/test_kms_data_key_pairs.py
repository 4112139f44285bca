"""GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext through boto3 against a real ``kmsd serve``.

Decrypt of PrivateKeyCiphertextBlob returns PrivateKeyPlaintext; the private key matches the public
key (a signature made with one verifies with the other, with `cryptography`); AWS's errors; and the
calls are authorized as AWS authorizes them (kms:DataKeyPairSpec allowed and denied, kms:EncryptionContext
keys, a denied call with AWS's text and a grant that allows it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

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
    with running_world(stores, tmp_path_factory.mktemp("kms-data-key-pairs")) as built:
        yield built


def symmetric_key(world: World) -> dict[str, Any]:
    return dict(world.a.kms().create_key()["KeyMetadata"])


@pytest.mark.parametrize(("spec", "curve"), [("RSA_2048", None), ("ECC_NIST_P384", ec.SECP384R1)])
def test_private_key_decrypts_and_matches_the_public_key(world: World, spec: str, curve: Any) -> None:
    kms = world.a.kms()
    key = symmetric_key(world)
    context = {"app": "pairs"}
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec=spec, EncryptionContext=context)
    assert pair["KeyId"] == key["Arn"]
    assert pair["KeyPairSpec"] == spec
    opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == pair["PrivateKeyPlaintext"]
    private: Any = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public: Any = serialization.load_der_public_key(pair["PublicKey"])
    message = b"signed with the data key pair"
    if curve is None:
        signature = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public.curve, curve)
        public.verify(private.sign(message, ec.ECDSA(hashes.SHA384())), message, ec.ECDSA(hashes.SHA384()))
    # Without plaintext: the blob still decrypts to a key that matches its public key.
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key["Arn"], KeyPairSpec=spec, EncryptionContext=context)
    assert "PrivateKeyPlaintext" not in bare
    der = kms.decrypt(CiphertextBlob=bare["PrivateKeyCiphertextBlob"], EncryptionContext=context)["Plaintext"]
    reloaded: Any = serialization.load_der_private_key(der, password=None)
    assert (
        reloaded.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == bare["PublicKey"]
    )


def test_errors(world: World) -> None:
    kms = world.a.kms()
    key = symmetric_key(world)
    signing = world.a.kms().create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    assert refused(kms.generate_data_key_pair, KeyId=signing, KeyPairSpec="RSA_2048")[:2] == (
        "InvalidKeyUsageException",
        f"{signing} key usage is SIGN_VERIFY which is not valid for GenerateDataKeyPair.",
    )
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256", DryRun=True)[:2] == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="SM2")[0] == (
        "UnsupportedOperationException"
    )
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="RSA_1024")[0] == "ValidationException"
    recipient = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"doc"}
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="RSA_2048", Recipient=recipient)[0] == (
        "ValidationException"
    )
    kms.disable_key(KeyId=key["KeyId"])
    assert refused(kms.generate_data_key_pair_without_plaintext, KeyId=key["Arn"], KeyPairSpec="RSA_2048")[0] == (
        "DisabledException"
    )


def test_data_key_pair_spec_condition_allows_and_denies(world: World) -> None:
    key = symmetric_key(world)
    user = world.a.user(
        allow(
            ["kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext"],
            condition={"StringLike": {"kms:DataKeyPairSpec": "ECC_*"}},
        ),
        deny("kms:GenerateDataKeyPair", condition={"StringEquals": {"kms:DataKeyPairSpec": "ECC_SECG_P256K1"}}),
        deny(
            "kms:GenerateDataKeyPairWithoutPlaintext",
            condition={"Null": {"kms:EncryptionContext:tenant": "true"}},
        ),
    )
    kms = user.kms()
    kms.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="RSA_2048") == denied(
        user.arn, "kms:GenerateDataKeyPair", key["Arn"], NO_IDENTITY_POLICY
    )
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="ECC_SECG_P256K1") == denied(
        user.arn, "kms:GenerateDataKeyPair", key["Arn"], DENY_IN_IDENTITY_POLICY
    )
    # kms:EncryptionContext:<key>: the Deny applies when the context has no "tenant".
    without = kms.generate_data_key_pair_without_plaintext
    assert refused(without, KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256") == denied(
        user.arn, "kms:GenerateDataKeyPairWithoutPlaintext", key["Arn"], DENY_IN_IDENTITY_POLICY
    )
    without(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256", EncryptionContext={"tenant": "t1"})


def test_a_grant_allows_it(world: World) -> None:
    key = symmetric_key(world)
    user = world.a.user()
    kms = user.kms()
    assert refused(kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256") == denied(
        user.arn, "kms:GenerateDataKeyPair", key["Arn"], NO_IDENTITY_POLICY
    )
    token = world.a.kms().create_grant(
        KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["GenerateDataKeyPair"]
    )["GrantToken"]
    pair = kms.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256", GrantTokens=[token])
    assert pair["KeyPairSpec"] == "ECC_NIST_P256"
