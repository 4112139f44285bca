"""ML-KEM keys through boto3 against a real ``kmsd serve``: a secret encapsulated outside with `cryptography`
and the GetPublicKey output is the one Decapsulate recovers, Encapsulate's secret is the one its ciphertext
decapsulates to, and both calls are authorized as AWS authorizes them (a denied call with AWS's text, a grant
that allows it, and a Deny that names the operation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

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
    with running_world(stores, tmp_path_factory.mktemp("kms-ml-kem")) as built:
        yield built


def new_key(world: World, spec: str = "ML_KEM_768") -> dict[str, Any]:
    return dict(world.a.kms().create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"])


@pytest.mark.parametrize("spec", ["ML_KEM_768", "ML_KEM_1024"])
def test_secrets_agree_with_encapsulation_outside(world: World, spec: str) -> None:
    kms = world.a.kms()
    key = new_key(world, spec)
    assert (key["KeySpec"], key["KeyUsage"], key["EncapsulationAlgorithms"]) == (
        spec,
        "ENCAPSULATE_DECAPSULATE",
        ["ML_KEM"],
    )
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert described["EncapsulationAlgorithms"] == ["ML_KEM"] and "SigningAlgorithms" not in described
    published = kms.get_public_key(KeyId=key["KeyId"])
    assert published["EncapsulationAlgorithms"] == ["ML_KEM"]
    public = serialization.load_der_public_key(published["PublicKey"])
    assert isinstance(public, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey))
    # Outside -> kmsd.
    secret, ciphertext = public.encapsulate()
    recovered = kms.decapsulate(
        KeyId=key["Arn"], SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert recovered["SharedSecret"] == secret
    assert (recovered["KeyId"], recovered["EncapsulationAlgorithm"]) == (key["Arn"], "ML_KEM")
    # kmsd -> kmsd.
    made = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert len(made["SharedSecret"]) == 32
    again = kms.decapsulate(
        KeyId=key["KeyId"],
        SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert again["SharedSecret"] == made["SharedSecret"]


def test_errors_on_the_wire(world: World) -> None:
    kms = world.a.kms()
    key = new_key(world)
    ciphertext = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    assert refused(
        kms.decapsulate, KeyId=key["KeyId"], SharedSecretCiphertextBlob=ciphertext[:-1], EncapsulationAlgorithm="ML_KEM"
    )[0] == ("InvalidCiphertextException")
    assert refused(kms.encapsulate, KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM", DryRun=True)[0] == (
        "DryRunOperationException"
    )
    # botocore's model: ML_KEM is the only EncapsulationAlgorithm.
    assert refused(kms.encapsulate, KeyId=key["KeyId"], EncapsulationAlgorithm="RSA")[0] == "ValidationException"
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert refused(kms.encapsulate, KeyId=signing["Arn"], EncapsulationAlgorithm="ML_KEM")[:2] == (
        "InvalidKeyUsageException",
        f"{signing['Arn']} key usage is SIGN_VERIFY which is not valid for Encapsulate.",
    )
    # `cryptography` 51 has no ML-KEM-512: answered as AWS answers a key spec unavailable in the Region.
    assert refused(kms.create_key, KeySpec="ML_KEM_512", KeyUsage="ENCAPSULATE_DECAPSULATE")[:2] == (
        "UnsupportedOperationException",
        "KeySpec ML_KEM_512 is not supported in this Region",
    )
    assert refused(kms.create_key, KeySpec="ML_KEM_768", KeyUsage="ENCRYPT_DECRYPT")[:2] == (
        "ValidationException",
        "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ML_KEM_768",
    )
    kms.disable_key(KeyId=key["KeyId"])
    assert refused(kms.encapsulate, KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")[:2] == (
        "DisabledException",
        f"{key['Arn']} is disabled.",
    )


def test_encapsulate_is_denied_with_aws_text_and_allowed_by_a_grant(world: World) -> None:
    key = new_key(world)
    user = world.a.user()
    kms = user.kms()
    assert refused(kms.encapsulate, KeyId=key["Arn"], EncapsulationAlgorithm="ML_KEM") == denied(
        user.arn, "kms:Encapsulate", key["Arn"], NO_IDENTITY_POLICY
    )
    token = world.a.kms().create_grant(
        KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Encapsulate", "GetPublicKey"]
    )["GrantToken"]
    made = kms.encapsulate(KeyId=key["Arn"], EncapsulationAlgorithm="ML_KEM", GrantTokens=[token])
    # The grant names Encapsulate, not Decapsulate.
    decapsulate = {
        "KeyId": key["Arn"],
        "SharedSecretCiphertextBlob": made["SharedSecretCiphertextBlob"],
        "EncapsulationAlgorithm": "ML_KEM",
    }
    assert refused(kms.decapsulate, **decapsulate, GrantTokens=[token]) == denied(
        user.arn, "kms:Decapsulate", key["Arn"], NO_IDENTITY_POLICY
    )
    world.a.kms().create_grant(KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Decapsulate"])
    assert kms.decapsulate(**decapsulate)["SharedSecret"] == made["SharedSecret"]
    # AWS: a grant cannot allow an operation the key cannot do.
    assert (
        refused(world.a.kms().create_grant, KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Encrypt"])[0]
        == "ValidationException"
    )


def test_identity_policies_decide_through_the_default_key_policy(world: World) -> None:
    key = new_key(world)
    user = world.a.user(allow("kms:*"), deny("kms:Decapsulate"))
    kms = user.kms()
    made = kms.encapsulate(KeyId=key["Arn"], EncapsulationAlgorithm="ML_KEM")
    assert refused(
        kms.decapsulate,
        KeyId=key["Arn"],
        SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    ) == denied(user.arn, "kms:Decapsulate", key["Arn"], DENY_IN_IDENTITY_POLICY)


def test_data_key_pairs_of_ml_kem_decapsulate_outside(world: World) -> None:
    kms = world.a.kms()
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    pair = kms.generate_data_key_pair(KeyId=symmetric, KeyPairSpec="ML_KEM_1024")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(pair["PublicKey"])
    assert isinstance(private, mlkem.MLKEM1024PrivateKey) and isinstance(public, mlkem.MLKEM1024PublicKey)
    secret, ciphertext = public.encapsulate()
    assert private.decapsulate(ciphertext) == secret
