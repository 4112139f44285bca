"""What imported key material must be for each key spec, and the form kmsd keeps it in.

AWS's "Requirements for imported key material" (KMS Developer Guide, "Create a KMS key with imported key
material"):

- a symmetric encryption key (SYMMETRIC_DEFAULT) takes 256 bits of key material: 32 bytes;
- an HMAC key takes raw key bytes whose length depends on its spec: HMAC_224 28 to 64 bytes, HMAC_256 32 to
  64, HMAC_384 48 to 128, HMAC_512 64 to 128;
- an asymmetric key takes its private key as a DER-encoded PKCS#8 ``PrivateKeyInfo`` (RFC 5208) of exactly
  the key's spec: an RSA key of the spec's modulus size, an elliptic-curve key on the spec's curve.

:func:`imported_key_material` checks material against its key spec and returns it in the form kmsd keeps
key material of that spec (asymmetric keys: PKCS#8 DER re-encoded by ``cryptography``, so that equal keys
give equal bytes whatever optional PKCS#8 fields the caller's tool wrote).  PKCS#1 and SEC1 private keys,
which ``cryptography`` would load as well, are refused by the shape of their first elements.  Material that does not fit
raises the one opaque :class:`~kmsd.crypto.errors.CryptoError`; it never names or echoes the material.
Unlike key material kmsd generated, an imported RSA key is loaded *with* OpenSSL's consistency check here,
once: from then on it comes back only through the root key's authenticated unwrap.

:func:`wrapping_refusal` answers the wrapping rules of "Select a wrapping algorithm" (GetParametersForImport
API reference): "To import an RSA private key, you must use an RSA_AES wrapping algorithm", and "You cannot
use the RSAES_OAEP_SHA_1 [or SHA_256] wrapping algorithm with the RSA_2048 wrapping key spec to wrap
ECC_NIST_P521 key material"; RSAES-OAEP cannot carry material that large.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kmsd.crypto.errors import CryptoError
from kmsd.crypto.key_spec import KeySpec

SYMMETRIC_MATERIAL_BYTES = 32
# "Requirements for imported key material": the byte lengths HMAC key material may have, per key spec.
HMAC_MATERIAL_BYTES: dict[str, tuple[int, int]] = {
    "HMAC_224": (28, 64),
    "HMAC_256": (32, 64),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_CURVES = {
    "ECC_NIST_P256": "secp256r1",
    "ECC_NIST_P384": "secp384r1",
    "ECC_NIST_P521": "secp521r1",
    "ECC_SECG_P256K1": "secp256k1",
}
_EDWARDS = "ECC_NIST_EDWARDS25519"
_RSAES_OAEP = frozenset({"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"})


def importable_specs() -> frozenset[str]:
    """The key specs whose material this module can check (with the symmetric spec)."""
    return (
        frozenset({"SYMMETRIC_DEFAULT", _EDWARDS})
        | frozenset(HMAC_MATERIAL_BYTES)
        | frozenset(_RSA_BITS)
        | frozenset(_CURVES)
    )


def imported_key_material(spec: KeySpec, material: bytes) -> bytes:
    """``material`` as kmsd keeps key material of ``spec``; CryptoError when it is not material of that spec."""
    if spec.is_symmetric_encryption:
        if len(material) != SYMMETRIC_MATERIAL_BYTES:
            raise CryptoError()
        return material
    if spec.name in HMAC_MATERIAL_BYTES:
        shortest, longest = HMAC_MATERIAL_BYTES[spec.name]
        if not shortest <= len(material) <= longest:
            raise CryptoError()
        return material
    if not _is_pkcs8(material):
        raise CryptoError()
    try:
        key = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError, CryptoError):
        raise CryptoError() from None
    if not _is_key_of(spec.name, key):
        raise CryptoError()
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _is_pkcs8(der: bytes) -> bool:
    """Whether ``der`` opens like a PKCS#8 PrivateKeyInfo (RFC 5208: SEQUENCE { INTEGER version, SEQUENCE
    algorithm, ... }) rather than PKCS#1's RSAPrivateKey or SEC1's ECPrivateKey, which ``cryptography`` would
    load too: there the element after the version is an INTEGER or an OCTET STRING."""
    position = _after_header(der, 0, 0x30)
    if position is None:
        return False
    version_end = _skip_element(der, position, 0x02)
    return version_end is not None and version_end < len(der) and der[version_end] == 0x30


def _after_header(der: bytes, position: int, tag: int) -> int | None:
    """Where the contents of the DER element at ``position`` start, if it has tag ``tag``."""
    header = _header(der, position, tag)
    return None if header is None else header[0]


def _skip_element(der: bytes, position: int, tag: int) -> int | None:
    """Where the DER element at ``position`` (of tag ``tag``) ends."""
    header = _header(der, position, tag)
    return None if header is None else header[0] + header[1]


def _header(der: bytes, position: int, tag: int) -> tuple[int, int] | None:
    """(start of contents, length of contents) of the DER element at ``position`` with tag ``tag``."""
    if position + 2 > len(der) or der[position] != tag:
        return None
    first = der[position + 1]
    if first < 0x80:
        return position + 2, first
    count = first & 0x7F
    if count == 0 or count > 4 or position + 2 + count > len(der):
        return None
    return position + 2 + count, int.from_bytes(der[position + 2 : position + 2 + count], "big")


def _is_key_of(spec_name: str, key: object) -> bool:
    if spec_name in _RSA_BITS:
        return isinstance(key, rsa.RSAPrivateKey) and key.key_size == _RSA_BITS[spec_name]
    if spec_name in _CURVES:
        return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == _CURVES[spec_name]
    if spec_name == _EDWARDS:
        return isinstance(key, ed25519.Ed25519PrivateKey)
    return False


def wrapping_refusal(spec: KeySpec, wrapping_algorithm: str, wrapping_key_spec: str) -> str | None:
    """Why ``wrapping_algorithm`` with a ``wrapping_key_spec`` public key cannot carry material of ``spec``,
    or None when it can."""
    if wrapping_algorithm not in _RSAES_OAEP:
        return None
    if spec.name in _RSA_BITS:
        return (
            f"{wrapping_algorithm} cannot wrap RSA key material. "
            "Use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256."
        )
    if spec.name == "ECC_NIST_P521" and wrapping_key_spec == "RSA_2048":
        return (
            f"{wrapping_algorithm} with an RSA_2048 wrapping key cannot wrap ECC_NIST_P521 key material. "
            "Use an RSA_AES wrapping algorithm or a longer wrapping key."
        )
    return None
