"""RSA, EC, Ed25519, ML-DSA and ML-KEM key pairs: every signing scheme AWS lists signs and verifies, RSA-OAEP
round-trips, ECDH agrees, ML-KEM secrets agree with `cryptography`'s encapsulation, and every failure is the one
opaque CryptoError."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding

from kmsd.crypto import CryptoError
from kmsd.crypto.asymmetric import (
    ASYMMETRIC_SPECS,
    DIGEST,
    ED25519_PH_SHA_512,
    ED25519_SHA_512,
    EXTERNAL_MU,
    RAW,
    AsymmetricKey,
    new_private_key,
)
from kmsd.crypto.key_spec import KEY_SPECS, key_spec


def test_the_generated_specs_are_the_creatable_asymmetric_ones() -> None:
    creatable = {name for name, spec in KEY_SPECS.items() if spec.creatable}
    assert {name for name in creatable if name.startswith(("RSA", "ECC", "ML_"))} == ASYMMETRIC_SPECS


@pytest.mark.parametrize(
    "spec_name", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"]
)
def test_every_signing_algorithm_of_the_spec_signs_and_verifies(spec_name: str) -> None:
    spec = key_spec(spec_name)
    key = AsymmetricKey(new_private_key(spec))
    for algorithm in spec.signing_algorithms:
        signature = key.sign(b"message", RAW, algorithm)
        key.verify(b"message", RAW, algorithm, signature)
        digest = hashlib.new("sha" + algorithm.rsplit("_", 1)[1], b"message").digest()
        key.verify(digest, DIGEST, algorithm, signature)
        with pytest.raises(CryptoError):
            key.verify(b"other", RAW, algorithm, signature)


def test_rsa_oaep_round_trips_with_a_ciphertext_made_outside() -> None:
    key = AsymmetricKey(new_private_key(key_spec("RSA_2048")))
    public = serialization.load_der_public_key(key.public_key_der())
    for algorithm, hash_type in (("RSAES_OAEP_SHA_1", hashes.SHA1), ("RSAES_OAEP_SHA_256", hashes.SHA256)):
        oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
        ciphertext = public.encrypt(b"secret", oaep)  # type: ignore[union-attr]
        assert key.decrypt(ciphertext, algorithm) == b"secret"
        assert key.decrypt(key.encrypt(b"secret", algorithm), algorithm) == b"secret"
    with pytest.raises(CryptoError):
        key.decrypt(b"\x00" * 256, "RSAES_OAEP_SHA_256")


def test_ecdh_agrees_and_refuses_another_curve() -> None:
    key = AsymmetricKey(new_private_key(key_spec("ECC_NIST_P256")))
    ours = serialization.load_der_public_key(key.public_key_der())
    theirs = ec.generate_private_key(ec.SECP256R1())
    der = theirs.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.derive_shared_secret(der) == theirs.exchange(ec.ECDH(), ours)  # type: ignore[arg-type]
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(CryptoError):
        key.derive_shared_secret(
            other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    with pytest.raises(CryptoError):
        key.derive_shared_secret(b"not a key")


def test_damaged_material_is_opaque() -> None:
    with pytest.raises(CryptoError):
        AsymmetricKey(b"\x30\x03\x02\x01\x00")


@pytest.mark.parametrize("spec_name", ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"])
def test_ml_dsa_signs_raw_messages_and_external_mu(spec_name: str) -> None:
    key = AsymmetricKey(new_private_key(key_spec(spec_name)))
    public = serialization.load_der_public_key(key.public_key_der())
    signature = key.sign(b"message", RAW, "ML_DSA_SHAKE_256")
    public.verify(signature, b"message")  # type: ignore[call-arg]
    hasher = mldsa.MLDSAMuHasher(public)  # type: ignore[arg-type]
    hasher.update(b"message")
    mu = hasher.finalize()
    by_mu = key.sign(mu, EXTERNAL_MU, "ML_DSA_SHAKE_256")
    public.verify(by_mu, b"message")  # type: ignore[call-arg]
    key.verify(mu, EXTERNAL_MU, "ML_DSA_SHAKE_256", signature)
    with pytest.raises(CryptoError):
        key.verify(b"other", RAW, "ML_DSA_SHAKE_256", signature)


# RFC 8032, section 7.1, TEST 2: Ed25519 of the one-byte message 0x72.
_RFC8032_SECRET = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
_RFC8032_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)


def test_ed25519_signs_pure_ed25519_as_rfc_8032() -> None:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(_RFC8032_SECRET)
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = AsymmetricKey(der)
    assert key.sign(b"\x72", RAW, ED25519_SHA_512) == _RFC8032_SIGNATURE
    key.verify(b"\x72", RAW, ED25519_SHA_512, _RFC8032_SIGNATURE)
    with pytest.raises(CryptoError):
        key.verify(b"\x73", RAW, ED25519_SHA_512, _RFC8032_SIGNATURE)


def test_a_new_ed25519_key_verifies_outside_and_refuses_ed25519ph() -> None:
    key = AsymmetricKey(new_private_key(key_spec("ECC_NIST_EDWARDS25519")))
    public = serialization.load_der_public_key(key.public_key_der())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(key.sign(b"m", RAW, ED25519_SHA_512), b"m")
    # `cryptography` has no Ed25519ph: the key never signs a DIGEST, and never with ED25519_PH_SHA_512.
    digest = hashlib.sha512(b"m").digest()
    for message_type, algorithm in ((DIGEST, ED25519_SHA_512), (DIGEST, ED25519_PH_SHA_512), (RAW, ED25519_PH_SHA_512)):
        with pytest.raises(CryptoError):
            key.sign(digest, message_type, algorithm)


@pytest.mark.parametrize(("spec_name", "ciphertext_bytes"), [("ML_KEM_768", 1088), ("ML_KEM_1024", 1568)])
def test_ml_kem_secrets_agree_with_encapsulation_outside(spec_name: str, ciphertext_bytes: int) -> None:
    key = AsymmetricKey(new_private_key(key_spec(spec_name)))
    public = serialization.load_der_public_key(key.public_key_der())
    assert isinstance(public, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey))
    secret, ciphertext = public.encapsulate()
    assert key.decapsulate(ciphertext) == secret
    inside, inside_ciphertext = key.encapsulate()
    assert len(inside) == 32 and len(inside_ciphertext) == ciphertext_bytes
    assert key.decapsulate(inside_ciphertext) == inside
    # FIPS 203 implicit rejection: an altered ciphertext gives another secret, not an error; a wrong length fails.
    altered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    assert key.decapsulate(altered) != secret
    with pytest.raises(CryptoError):
        key.decapsulate(ciphertext[:-1])
    with pytest.raises(CryptoError):
        key.sign(b"m", RAW, "ML_DSA_SHAKE_256")
