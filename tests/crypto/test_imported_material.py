"""What imported key material must be for each key spec (:mod:`kmsd.crypto.imported_material`): 32 bytes for a
symmetric key, raw bytes of the spec's lengths for HMAC, a PKCS#8 private key of exactly the spec for an
asymmetric key ("Requirements for imported key material"), and the wrapping algorithms that cannot carry it."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kmsd.crypto import CryptoError
from kmsd.crypto.imported_material import HMAC_MATERIAL_BYTES, imported_key_material, wrapping_refusal
from kmsd.crypto.key_spec import key_spec


def pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, encoding: str = "DER") -> bytes:
    return key.private_bytes(
        getattr(serialization.Encoding, encoding), serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_symmetric_material_is_exactly_256_bits() -> None:
    material = os.urandom(32)
    assert imported_key_material(key_spec("SYMMETRIC_DEFAULT"), material) == material
    for size in (16, 31, 33, 64):
        with pytest.raises(CryptoError):
            imported_key_material(key_spec("SYMMETRIC_DEFAULT"), os.urandom(size))


@pytest.mark.parametrize("spec", sorted(HMAC_MATERIAL_BYTES))
def test_hmac_material_lengths(spec: str) -> None:
    shortest, longest = HMAC_MATERIAL_BYTES[spec]
    for size in (shortest, longest):
        material = os.urandom(size)
        assert imported_key_material(key_spec(spec), material) == material
    for size in (shortest - 1, longest + 1):
        with pytest.raises(CryptoError):
            imported_key_material(key_spec(spec), os.urandom(size))


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("RSA_2048", rsa.generate_private_key(65537, 2048)),
        ("ECC_NIST_P256", ec.generate_private_key(ec.SECP256R1())),
        ("ECC_NIST_P384", ec.generate_private_key(ec.SECP384R1())),
        ("ECC_NIST_P521", ec.generate_private_key(ec.SECP521R1())),
        ("ECC_SECG_P256K1", ec.generate_private_key(ec.SECP256K1())),
    ],
)
def test_an_asymmetric_key_must_be_pkcs8_der_of_its_spec(
    spec: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> None:
    assert imported_key_material(key_spec(spec), pkcs8(key)) == pkcs8(key)
    # PEM, a bare SEC1/PKCS#1 key and random bytes are not PKCS#8 DER.
    traditional = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    for wrong in (pkcs8(key, "PEM"), traditional, pkcs8(key)[:-1], os.urandom(100)):
        with pytest.raises(CryptoError):
            imported_key_material(key_spec(spec), wrong)
    # Another spec's key is refused.
    other = "ECC_NIST_P384" if spec != "ECC_NIST_P384" else "RSA_2048"
    with pytest.raises(CryptoError):
        imported_key_material(key_spec(other), pkcs8(key))


def test_an_edwards25519_key_must_be_pkcs8_der() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert imported_key_material(key_spec("ECC_NIST_EDWARDS25519"), der) == der
    with pytest.raises(CryptoError):
        imported_key_material(key_spec("ECC_NIST_P256"), der)
    with pytest.raises(CryptoError):
        imported_key_material(key_spec("ECC_NIST_EDWARDS25519"), private.private_bytes_raw())


def test_an_rsa_key_of_another_size_is_refused() -> None:
    with pytest.raises(CryptoError):
        imported_key_material(key_spec("RSA_3072"), pkcs8(rsa.generate_private_key(65537, 2048)))


def test_wrapping_rules() -> None:
    # "To import an RSA private key, you must use an RSA_AES wrapping algorithm."
    for algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
        assert wrapping_refusal(key_spec("RSA_2048"), algorithm, "RSA_4096") is not None
        assert wrapping_refusal(key_spec("ECC_NIST_P521"), algorithm, "RSA_2048") is not None
        assert wrapping_refusal(key_spec("ECC_NIST_P521"), algorithm, "RSA_3072") is None
        assert wrapping_refusal(key_spec("HMAC_512"), algorithm, "RSA_2048") is None
    for algorithm in ("RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"):
        assert wrapping_refusal(key_spec("RSA_4096"), algorithm, "RSA_2048") is None
