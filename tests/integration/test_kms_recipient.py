"""The Recipient parameter (AWS Nitro Enclaves) through boto3 against a real ``kmsd serve``.

The server is started with ``--attestation-root`` naming a test PKI's root
(:mod:`tests.helpers.enclave`), and an enclave of that PKI sends its signed
attestation document with Decrypt, GenerateDataKey, GenerateDataKeyPair,
GenerateRandom and DeriveSharedSecret.  Each answer carries
``CiphertextForRecipient`` and no plaintext member, and ``openssl cms``
decrypts it with the enclave's private key to exactly what the operation
returns without ``Recipient``.  A tampered document, one of another root, an
expired one and one without an RSA key are refused with ValidationException;
the condition keys ``kms:RecipientAttestation:ImageSha384`` and
``kms:RecipientAttestation:PCR<n>`` allow the enclave and deny a plain caller
with AWS's denial text, and a grant allows an attested Decrypt.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsd.crypto.attestation import TrustRoot
from tests.helpers.enclave import Enclave, NitroPki
from tests.integration.authz_world import (
    NO_IDENTITY_POLICY,
    World,
    allow,
    denied,
    enable_iam_policies,
    refused,
    running_world,
)
from tests.integration.server import in_process_server, run_kmsd
from tests.integration.stores import Stores

INVALID = ("ValidationException", "The attestation document in the Recipient parameter is not valid.", 400)


@pytest.fixture(scope="module")
def pki() -> NitroPki:
    return NitroPki()


@pytest.fixture(scope="module")
def enclave(pki: NitroPki) -> Enclave:
    return Enclave(pki)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores, pki: NitroPki) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("kms-recipient")
    root = Path(data_dir) / "nitro-root.pem"
    root.write_bytes(pki.root_pem())
    with running_world(stores, data_dir, "--attestation-root", str(root)) as built:
        yield built


def test_decrypt_answers_the_enclave(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key()["KeyMetadata"]
    context = {"app": "enclave"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"for the enclave only", EncryptionContext=context)
    answer = kms.decrypt(
        CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context, Recipient=enclave.recipient()
    )
    assert "Plaintext" not in answer
    assert answer["KeyId"] == key["Arn"]
    assert answer["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert enclave.open(answer["CiphertextForRecipient"]) == b"for the enclave only"


def test_decrypt_with_an_rsa_key_answers_the_enclave(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    sealed = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    answer = kms.decrypt(
        KeyId=key["KeyId"],
        CiphertextBlob=sealed["CiphertextBlob"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
        Recipient=enclave.recipient(),
    )
    assert "Plaintext" not in answer
    assert enclave.open(answer["CiphertextForRecipient"]) == b"rsa"


def test_generate_data_key_answers_the_enclave(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key()["KeyMetadata"]
    answer = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", Recipient=enclave.recipient())
    assert "Plaintext" not in answer
    data_key = enclave.open(answer["CiphertextForRecipient"])
    assert len(data_key) == 32
    # The CiphertextBlob is the same data key under the KMS key, as without Recipient.
    assert kms.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"] == data_key


def test_generate_data_key_pair_answers_the_enclave(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key()["KeyMetadata"]
    answer = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256", Recipient=enclave.recipient())
    assert "PrivateKeyPlaintext" not in answer
    private_der = enclave.open(answer["CiphertextForRecipient"])
    private: Any = serialization.load_der_private_key(private_der, password=None)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_der == answer["PublicKey"]
    assert kms.decrypt(CiphertextBlob=answer["PrivateKeyCiphertextBlob"])["Plaintext"] == private_der


def test_generate_random_answers_the_enclave(world: World, enclave: Enclave) -> None:
    answer = world.a.kms().generate_random(NumberOfBytes=48, Recipient=enclave.recipient())
    assert "Plaintext" not in answer
    assert len(enclave.open(answer["CiphertextForRecipient"])) == 48


def test_derive_shared_secret_answers_the_enclave(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    ours = ec.generate_private_key(ec.SECP256R1())
    our_public = ours.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    answer = kms.derive_shared_secret(
        KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=our_public, Recipient=enclave.recipient()
    )
    assert "SharedSecret" not in answer
    theirs: Any = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert enclave.open(answer["CiphertextForRecipient"]) == ours.exchange(ec.ECDH(), theirs)


def test_an_untagged_document_with_a_nonce_is_accepted(world: World, enclave: Enclave) -> None:
    document = enclave.document(tagged=False, nonce=b"0123456789abcdef", user_data=b"request hash")
    answer = world.a.kms().generate_random(NumberOfBytes=8, Recipient=enclave.recipient(document))
    assert len(enclave.open(answer["CiphertextForRecipient"])) == 8


def test_documents_that_do_not_verify_are_refused(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key()["KeyMetadata"]
    tampered = bytearray(enclave.document())
    tampered[-1] ^= 0x01  # the signature's last byte
    other_root = Enclave(NitroPki())
    expired = Enclave(NitroPki(expired_leaf=True))
    documents = [
        bytes(tampered),
        other_root.document(),
        expired.document(),
        enclave.document(public_key=None),
        b"not CBOR at all",
    ]
    for document in documents:
        recipient = enclave.recipient(document)
        assert refused(kms.generate_data_key, KeyId=key["KeyId"], NumberOfBytes=32, Recipient=recipient) == INVALID
        assert refused(kms.generate_random, NumberOfBytes=8, Recipient=recipient) == INVALID
    # The document is checked before the key is looked up.
    bad = enclave.recipient(bytes(tampered))
    assert refused(kms.generate_data_key_pair, KeyId="alias/none", KeyPairSpec="RSA_2048", Recipient=bad) == INVALID


def test_a_server_without_the_root_refuses_the_test_pki(
    tmp_path_factory: pytest.TempPathFactory, stores: Stores, enclave: Enclave
) -> None:
    # The default trust root is AWS's Nitro Enclaves root, which did not sign the test PKI.
    with running_world(stores, tmp_path_factory.mktemp("kms-recipient-aws-root")) as aws_rooted:
        assert refused(aws_rooted.a.kms().generate_random, NumberOfBytes=8, Recipient=enclave.recipient()) == INVALID


def test_dry_run_with_a_recipient(world: World, enclave: Enclave) -> None:
    kms = world.a.kms()
    key = kms.create_key()["KeyMetadata"]
    assert refused(
        kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_128", DryRun=True, Recipient=enclave.recipient()
    )[:2] == ("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")


def test_image_sha384_and_pcr_conditions_allow_the_enclave_and_deny_a_plain_caller(
    world: World, enclave: Enclave
) -> None:
    # "Condition keys for Nitro Enclaves": a key policy statement allows the role only for the enclave image.
    user = world.a.user()
    image = enclave.pcrs[0].hex().upper()  # StringEqualsIgnoreCase, as AWS's example
    key = world.a.key(
        enable_iam_policies(world.a.account_id),
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair", "kms:DeriveSharedSecret"],
            principal=user.arn,
            condition={
                "StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": image},
                "StringEquals": {"kms:RecipientAttestation:PCR8": enclave.pcrs[8].hex()},
            },
        ),
    )
    kms = user.kms()
    answer = kms.generate_data_key(KeyId=key.arn, NumberOfBytes=16, Recipient=enclave.recipient())
    assert len(enclave.open(answer["CiphertextForRecipient"])) == 16
    # Without Recipient the condition keys are absent, and the same call is denied.
    assert refused(kms.generate_data_key, KeyId=key.arn, NumberOfBytes=16) == denied(
        user.arn, "kms:GenerateDataKey", key.arn, NO_IDENTITY_POLICY
    )
    # Another image (another PCR0) is denied too.
    other_image = Enclave(enclave.pki, image=b"another image", key=enclave.key)
    assert refused(kms.generate_data_key, KeyId=key.arn, NumberOfBytes=16, Recipient=other_image.recipient()) == (
        denied(user.arn, "kms:GenerateDataKey", key.arn, NO_IDENTITY_POLICY)
    )
    blob = world.a.kms().encrypt(KeyId=key.arn, Plaintext=b"pcr")["CiphertextBlob"]
    assert enclave.open(kms.decrypt(CiphertextBlob=blob, Recipient=enclave.recipient())["CiphertextForRecipient"]) == (
        b"pcr"
    )
    assert refused(kms.decrypt, CiphertextBlob=blob) == denied(user.arn, "kms:Decrypt", key.arn, NO_IDENTITY_POLICY)


def test_generate_random_is_conditioned_by_identity_policies(world: World, enclave: Enclave) -> None:
    user = world.a.user(
        allow(
            "kms:GenerateRandom",
            condition={"StringEquals": {"kms:RecipientAttestation:PCR1": enclave.pcrs[1].hex()}},
        )
    )
    kms = user.kms()
    assert (
        len(enclave.open(kms.generate_random(NumberOfBytes=8, Recipient=enclave.recipient())["CiphertextForRecipient"]))
        == 8
    )
    assert refused(kms.generate_random, NumberOfBytes=8) == denied(
        user.arn, "kms:GenerateRandom", "*", NO_IDENTITY_POLICY
    )


def test_a_grant_allows_an_attested_decrypt(world: World, enclave: Enclave) -> None:
    key = world.a.kms().create_key()["KeyMetadata"]
    blob = world.a.kms().encrypt(KeyId=key["KeyId"], Plaintext=b"granted")["CiphertextBlob"]
    user = world.a.user()
    kms = user.kms()
    assert refused(kms.decrypt, CiphertextBlob=blob, Recipient=enclave.recipient()) == denied(
        user.arn, "kms:Decrypt", key["Arn"], NO_IDENTITY_POLICY
    )
    token = world.a.kms().create_grant(KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Decrypt"])[
        "GrantToken"
    ]
    answer = kms.decrypt(CiphertextBlob=blob, Recipient=enclave.recipient(), GrantTokens=[token])
    assert enclave.open(answer["CiphertextForRecipient"]) == b"granted"


def test_serve_refuses_an_attestation_root_it_cannot_use(tmp_path: Path, stores: Stores, pki: NitroPki) -> None:
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(pki.leaf.public_bytes(serialization.Encoding.PEM))
    store = stores.new(tmp_path)
    for path, reason in (
        (tmp_path / "missing.pem", "No such file or directory"),
        (leaf, "a certificate that issues others is not a CA certificate"),
    ):
        done = run_kmsd(["serve", "--port", "0", "--store", store, "--attestation-root", str(path)], tmp_path)
        assert done.returncode == 1
        assert done.stderr == f"kmsd: --attestation-root {path}: {reason}\n"
        assert done.stdout == ""


def test_certificates_are_checked_at_the_servers_time(
    tmp_path: Path, stores: Stores, pki: NitroPki, enclave: Enclave
) -> None:
    # The test PKI's certificates are valid from a day before their creation to a day after it; the server's
    # (manual) clock decides whether a document's chain is valid, not the wall clock.
    with in_process_server(
        tmp_path, stores.new(tmp_path), sweep_interval=60, attestation_root=TrustRoot.from_pem(pki.root_pem())
    ) as running:
        kms, clock = running.kms, running.clock
        assert (
            len(
                enclave.open(
                    kms.generate_random(NumberOfBytes=8, Recipient=enclave.recipient())["CiphertextForRecipient"]
                )
            )
            == 8
        )
        clock.advance(timedelta(days=2))
        with pytest.raises(ClientError) as refusal:
            kms.generate_random(NumberOfBytes=8, Recipient=enclave.recipient())
        assert refusal.value.response["Error"]["Code"] == "ValidationException"
        clock.advance(timedelta(days=-4))
        with pytest.raises(ClientError):
            kms.generate_random(NumberOfBytes=8, Recipient=enclave.recipient())
