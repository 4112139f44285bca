"""Imported material beyond the first symmetric key, through boto3 against a real ``kmsd serve``: asymmetric and
HMAC keys of origin EXTERNAL (a private key or HMAC key made and wrapped outside with `cryptography`, imported,
then used in kmsd exactly as it computes outside), the wrapping rules per key type, new material for on-demand
rotation with ListKeyRotations' import fields, and the authorization of those calls (a denied call with AWS's
text, a grant that allows Sign on an imported key)."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tests.crypto.import_wrapping import wrap_outside
from tests.integration.authz_world import NO_IDENTITY_POLICY, World, denied, refused, running_world
from tests.integration.stores import Stores

AES_WRAP = "RSA_AES_KEY_WRAP_SHA_256"
INCORRECT = (
    "The request was rejected because the key material in the request is, expired, invalid, or does not meet "
    "expectations. For example, it is not the same key material that was previously imported or KMS expected "
    "new key material but the key material being imported is already associated with the KMS key."
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("kms-import-asymmetric")) as built:
        yield built


def pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def external_key(kms: Any, spec: str, usage: str) -> dict[str, Any]:
    metadata = kms.create_key(Origin="EXTERNAL", KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert (metadata["Origin"], metadata["KeyState"]) == ("EXTERNAL", "PendingImport")
    return dict(metadata)


def import_into(
    kms: Any, key_id: str, material: bytes, algorithm: str = AES_WRAP, wrapping_key: str = "RSA_3072", **params: Any
) -> Any:
    parameters = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=wrapping_key)
    params.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], algorithm, material),
        **params,
    )


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_an_imported_rsa_key_signs_as_it_does_outside(world: World, bits: int) -> None:
    kms = world.a.kms()
    private = rsa.generate_private_key(65537, bits)
    key = external_key(kms, f"RSA_{bits}", "SIGN_VERIFY")
    import_into(kms, key["KeyId"], pkcs8(private), "RSA_AES_KEY_WRAP_SHA_1", "RSA_4096")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    public_der = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    assert public_der == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    message = b"signed in kmsd with material made outside"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    private.public_key().verify(signature, message, pss, hashes.SHA256())
    outside = private.sign(message, padding.PKCS1v15(), hashes.SHA384())
    verified = kms.verify(
        KeyId=key["KeyId"], Message=message, Signature=outside, SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_384"
    )
    assert verified["SignatureValid"] is True


def test_an_imported_rsa_key_decrypts_what_its_public_key_encrypted_outside(world: World) -> None:
    kms = world.a.kms()
    private = rsa.generate_private_key(65537, 2048)
    key = external_key(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    # "To import an RSA private key, you must use an RSA_AES wrapping algorithm."
    for algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
        code, _, status = refused(
            kms.get_parameters_for_import, KeyId=key["KeyId"], WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_4096"
        )
        assert (code, status) == ("ValidationException", 400)
    import_into(kms, key["KeyId"], pkcs8(private))
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ciphertext = private.public_key().encrypt(b"made outside", oaep)
    decrypted = kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert decrypted["Plaintext"] == b"made outside"


@pytest.mark.parametrize(
    ("spec", "curve", "algorithm", "digest"),
    [
        ("ECC_NIST_P256", ec.SECP256R1(), "ECDSA_SHA_256", hashes.SHA256()),
        ("ECC_NIST_P384", ec.SECP384R1(), "ECDSA_SHA_384", hashes.SHA384()),
        ("ECC_NIST_P521", ec.SECP521R1(), "ECDSA_SHA_512", hashes.SHA512()),
        ("ECC_SECG_P256K1", ec.SECP256K1(), "ECDSA_SHA_256", hashes.SHA256()),
    ],
)
def test_an_imported_ec_key_signs_as_it_does_outside(
    world: World, spec: str, curve: ec.EllipticCurve, algorithm: str, digest: hashes.HashAlgorithm
) -> None:
    kms = world.a.kms()
    private = ec.generate_private_key(curve)
    key = external_key(kms, spec, "SIGN_VERIFY")
    # RSAES-OAEP under a 4096-bit wrapping key carries an EC private key ("Select a wrapping algorithm").
    import_into(kms, key["KeyId"], pkcs8(private), "RSAES_OAEP_SHA_256", "RSA_4096")
    message = b"an ECDSA signature"
    signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm=algorithm)["Signature"]
    private.public_key().verify(signature, message, ec.ECDSA(digest))
    outside = private.sign(message, ec.ECDSA(digest))
    assert kms.verify(KeyId=key["KeyId"], Message=message, Signature=outside, SigningAlgorithm=algorithm)[
        "SignatureValid"
    ]


def test_an_imported_edwards25519_key_signs_as_it_does_outside(world: World) -> None:
    kms = world.a.kms()
    private = ed25519.Ed25519PrivateKey.generate()
    key = external_key(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    import_into(kms, key["KeyId"], pkcs8(private), "RSAES_OAEP_SHA_1", "RSA_2048")
    message = b"pure Ed25519"
    signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm="ED25519_SHA_512")["Signature"]
    private.public_key().verify(signature, message)


def test_an_imported_key_agreement_key_derives_the_secret_computed_outside(world: World) -> None:
    kms = world.a.kms()
    private, peer = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    key = external_key(kms, "ECC_NIST_P384", "KEY_AGREEMENT")
    import_into(kms, key["KeyId"], pkcs8(private))
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    derived = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert derived["SharedSecret"] == peer.exchange(ec.ECDH(), private.public_key())
    assert derived["KeyOrigin"] == "EXTERNAL"


@pytest.mark.parametrize(("bits", "size"), [(224, 28), (256, 64), (384, 48), (512, 128)])
def test_an_imported_hmac_key_macs_as_computed_outside(world: World, bits: int, size: int) -> None:
    kms = world.a.kms()
    material = os.urandom(size)
    key = external_key(kms, f"HMAC_{bits}", "GENERATE_VERIFY_MAC")
    imported = import_into(kms, key["KeyId"], material, "RSAES_OAEP_SHA_1", "RSA_2048")
    # KeyMaterialId: "Whenever you import key material into a symmetric encryption key, KMS assigns" one.
    assert "KeyMaterialId" not in imported
    message = b"a message to authenticate"
    expected = hmac.new(material, message, getattr(hashlib, f"sha{bits}")).digest()
    algorithm = f"HMAC_SHA_{bits}"
    assert kms.generate_mac(KeyId=key["KeyId"], Message=message, MacAlgorithm=algorithm)["Mac"] == expected
    assert kms.verify_mac(KeyId=key["KeyId"], Message=message, MacAlgorithm=algorithm, Mac=expected)["MacValid"]


def test_material_that_does_not_fit_the_key_spec_is_refused(world: World) -> None:
    kms = world.a.kms()
    key = external_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    for wrong in (pkcs8(ec.generate_private_key(ec.SECP384R1())), pkcs8(rsa.generate_private_key(65537, 2048))):
        assert refused(import_into, kms, key["KeyId"], wrong) == ("IncorrectKeyMaterialException", INCORRECT, 400)
    hmac_key = external_key(kms, "HMAC_384", "GENERATE_VERIFY_MAC")
    assert refused(import_into, kms, hmac_key["KeyId"], os.urandom(47))[0] == "IncorrectKeyMaterialException"
    # "For asymmetric and HMAC keys, you cannot change the key material after the initial import."
    private = ec.generate_private_key(ec.SECP256R1())
    import_into(kms, key["KeyId"], pkcs8(private))
    other = pkcs8(ec.generate_private_key(ec.SECP256R1()))
    assert refused(import_into, kms, key["KeyId"], other)[0] == "IncorrectKeyMaterialException"
    assert refused(import_into, kms, key["KeyId"], other, ImportType="NEW_KEY_MATERIAL")[0] == (
        "UnsupportedOperationException"
    )
    # Only the same key comes back after a deletion, and it signs again.
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    import_into(kms, key["KeyId"], pkcs8(private))
    kms.sign(KeyId=key["KeyId"], Message=b"again", SigningAlgorithm="ECDSA_SHA_256")


def test_sign_with_an_imported_key_is_denied_with_aws_text_and_allowed_by_a_grant(world: World) -> None:
    kms = world.a.kms()
    private = ec.generate_private_key(ec.SECP256R1())
    key = external_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    import_into(kms, key["KeyId"], pkcs8(private))
    user = world.a.user()
    call = {"KeyId": key["Arn"], "Message": b"m", "SigningAlgorithm": "ECDSA_SHA_256"}
    assert refused(user.kms().sign, **call) == denied(user.arn, "kms:Sign", key["Arn"], NO_IDENTITY_POLICY)
    token = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Sign"])["GrantToken"]
    signature = user.kms().sign(**call, GrantTokens=[token])["Signature"]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_new_material_rotates_on_demand_and_lists_its_import_fields(world: World) -> None:
    kms = world.a.kms()
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    key_id, arn = key["KeyId"], key["Arn"]
    first = import_into(kms, key_id, os.urandom(32), KeyMaterialDescription="first material")["KeyMaterialId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"under the first")["CiphertextBlob"]
    code, message, _ = refused(kms.rotate_key_on_demand, KeyId=key_id)
    assert code == "UnsupportedOperationException" and message.startswith(f"{arn} has no key material")
    second = import_into(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    listed = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(entry["KeyMaterialId"], entry["KeyMaterialState"]) for entry in listed] == [
        (first, "CURRENT"),
        (second, "PENDING_ROTATION"),
    ]
    assert listed[0]["ImportState"] == "IMPORTED" and listed[0]["KeyMaterialDescription"] == "first material"
    assert listed[0]["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE" and "RotationDate" not in listed[1]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []

    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == arn
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second
    (rotation,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert (rotation["KeyMaterialId"], rotation["RotationType"]) == (second, "ON_DEMAND")
    assert "RotationDate" in rotation
    new = kms.encrypt(KeyId=key_id, Plaintext=b"under the second")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"under the first"

    # Automatic rotation stays refused for imported material, as AWS refuses it.
    origin_refusal = f"{arn} origin is EXTERNAL which is not valid for this operation."
    for call in (kms.enable_key_rotation, kms.get_key_rotation_status):
        assert refused(call, KeyId=key_id)[:2] == ("UnsupportedOperationException", origin_refusal)

    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=first)
    assert deleted == {**deleted, "KeyId": arn, "KeyMaterialId": first}
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert refused(kms.decrypt, CiphertextBlob=new)[:2] == ("KMSInvalidStateException", f"{arn} is pending import.")
    statuses = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [entry["ImportState"] for entry in statuses] == ["PENDING_IMPORT", "IMPORTED"]


def test_rotation_calls_are_denied_with_aws_text(world: World) -> None:
    kms = world.a.kms()
    arn = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]
    user = world.a.user()
    for action, call in (
        ("kms:RotateKeyOnDemand", user.kms().rotate_key_on_demand),
        ("kms:ListKeyRotations", user.kms().list_key_rotations),
        ("kms:DeleteImportedKeyMaterial", user.kms().delete_imported_key_material),
    ):
        assert refused(call, KeyId=arn) == denied(user.arn, action, arn, NO_IDENTITY_POLICY)
