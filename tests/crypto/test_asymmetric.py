"""RSA and EC key pairs: every signing scheme AWS lists signs and verifies, RSA-OAEP round-trips, ECDH agrees,
and every failure is the one opaque CryptoError."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, padding

from kmsd.crypto import CryptoError
from kmsd.crypto.asymmetric import ASYMMETRIC_SPECS, DIGEST, EXTERNAL_MU, RAW, AsymmetricKey, new_private_key
from kmsd.crypto.key_spec import KEY_SPECS, key_spec


def test_the_generated_specs_are_the_creatable_asymmetric_ones() -> None:
    creatable = {name for name, spec in KEY_SPECS.items() if spec.creatable}
    assert {name for name in creatable if name.startswith(("RSA", "ECC", "ML_DSA"))} == ASYMMETRIC_SPECS


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
