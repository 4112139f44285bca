"""HMAC keys: their material and the MACs GenerateMac computes and VerifyMac checks (RFC 2104, FIPS 198-1).

An HMAC key's material is random bytes as long as the spec's key size
(HMAC_224: 28 bytes ... HMAC_512: 64; "Key spec reference", HMAC key specs).
Verification compares in constant time (``cryptography``'s ``HMAC.verify``)
and fails with the one opaque :class:`~kmsd.crypto.errors.CryptoError`.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

from kmsd.crypto.errors import CryptoError
from kmsd.crypto.key_spec import KeySpec
from kmsd.crypto.randomness import RandomSource

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "HMAC_SHA_224": hashes.SHA224,
    "HMAC_SHA_256": hashes.SHA256,
    "HMAC_SHA_384": hashes.SHA384,
    "HMAC_SHA_512": hashes.SHA512,
}


def new_hmac_material(spec: KeySpec, rng: RandomSource) -> bytes:
    """Fresh key material for an HMAC key of ``spec``: ``spec.key_bits`` random bits."""
    return rng.bytes(spec.key_bits // 8)


def generate_mac(material: bytes, algorithm: str, message: bytes) -> bytes:
    """HMAC of ``message`` under ``material`` with ``algorithm`` (a MacAlgorithmSpec name)."""
    mac = hmac.HMAC(material, _HASHES[algorithm]())
    mac.update(message)
    return mac.finalize()


def verify_mac(material: bytes, algorithm: str, message: bytes, expected: bytes) -> None:
    """Return if ``expected`` is the MAC of ``message``; CryptoError otherwise (constant-time comparison)."""
    mac = hmac.HMAC(material, _HASHES[algorithm]())
    mac.update(message)
    try:
        mac.verify(expected)
    except InvalidSignature:
        raise CryptoError() from None
