"""Imported key material: the RSA wrapping keys GetParametersForImport hands out, the unwrapping of what
ImportKeyMaterial receives, and the import token that carries the wrapping private key between the two.

AWS's wrapping algorithms ("Select a wrapping algorithm", KMS Developer Guide):

- ``RSAES_OAEP_SHA_1`` / ``RSAES_OAEP_SHA_256``: the material is RSA-OAEP encrypted directly under the
  public key (MGF1 with the same hash);
- ``RSA_AES_KEY_WRAP_SHA_1`` / ``RSA_AES_KEY_WRAP_SHA_256``: an ephemeral AES-256 key is RSA-OAEP
  encrypted under the public key and the material is wrapped under it with AES key wrap with padding
  (RFC 5649); the two are concatenated, the RSA part first.

``RSAES_PKCS1_V1_5`` has not been accepted by AWS since October 2023 and ``SM2`` wrapping keys exist
only in China Regions; neither is here.

The import token is the wrapping private key (PKCS#8 DER), the wrapping algorithm and the token's
expiry, sealed under the root key for the one key it was issued for, named by its ARN
(purpose ``kmsd/import-token/<key arn>``).  So the private key is never stored unwrapped, a token
cannot be used for another key, and its expiry cannot be changed.  The ARN, not the key id, because
the keys of a multi-Region set share their key id: a token issued for the primary in one Region must
not import into its replica in another (AWS binds the token to the key), nor into a key of another
account that happened to have the same id.  Nothing is stored on the server:
any node of a shared store can open a token another node issued.  Every failure to open a token or
to unwrap material raises the opaque :class:`CryptoError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

from kmsd.crypto.errors import CryptoError
from kmsd.crypto.root_key import RootKey

# WrappingKeySpec -> RSA modulus bits.
WRAPPING_KEY_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
# WrappingAlgorithm -> (OAEP hash, whether the material is AES-key-wrapped under an ephemeral key).
_ALGORITHMS: dict[str, tuple[type[hashes.HashAlgorithm], bool]] = {
    "RSAES_OAEP_SHA_1": (hashes.SHA1, False),
    "RSAES_OAEP_SHA_256": (hashes.SHA256, False),
    "RSA_AES_KEY_WRAP_SHA_1": (hashes.SHA1, True),
    "RSA_AES_KEY_WRAP_SHA_256": (hashes.SHA256, True),
}
WRAPPING_ALGORITHMS = frozenset(_ALGORITHMS)
_EPHEMERAL_AES_KEY_BYTES = 32
_TOKEN_VERSION = 1
# version, expiry in microseconds since the epoch, length of the algorithm name.
_TOKEN_HEADER = struct.Struct(">BqB")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _purpose(key_arn: str) -> bytes:
    # Account, Region and key id: the one key resource the token was issued for.
    return f"kmsd/import-token/{key_arn}".encode()


@dataclass(frozen=True)
class ImportParameters:
    """What GetParametersForImport returns: the public key (DER SubjectPublicKeyInfo) and the sealed token."""

    public_key: bytes
    import_token: bytes
    valid_to: datetime


def new_import_parameters(
    root_key: RootKey, key_arn: str, wrapping_algorithm: str, wrapping_key_spec: str, valid_to: datetime
) -> ImportParameters:
    """A fresh RSA wrapping key pair for the key ``key_arn``; its private half leaves only inside the sealed
    token."""
    if wrapping_algorithm not in _ALGORITHMS or wrapping_key_spec not in WRAPPING_KEY_BITS:
        raise ValueError("unsupported wrapping algorithm or wrapping key spec")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=WRAPPING_KEY_BITS[wrapping_key_spec])
    private_der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    algorithm = wrapping_algorithm.encode()
    expiry = (valid_to - _EPOCH) // _MICROSECOND
    payload = _TOKEN_HEADER.pack(_TOKEN_VERSION, expiry, len(algorithm)) + algorithm + private_der
    return ImportParameters(public_der, root_key.wrap(payload, _purpose(key_arn)), valid_to)


@dataclass(frozen=True)
class ImportToken:
    """An opened import token: when it expires, and how to unwrap material wrapped for it."""

    valid_to: datetime
    wrapping_algorithm: str
    _private_der: bytes

    def __repr__(self) -> str:
        # The private key must never reach a log through a repr.
        return f"ImportToken(valid_to={self.valid_to.isoformat()}, wrapping_algorithm={self.wrapping_algorithm})"

    def unwrap(self, encrypted_material: bytes) -> bytes:
        """The material ``encrypted_material`` carries; CryptoError when it was not wrapped for this token."""
        hash_type, key_wrapped = _ALGORITHMS[self.wrapping_algorithm]
        private_key = serialization.load_der_private_key(self._private_der, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise CryptoError()
        oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
        rsa_bytes = private_key.key_size // 8
        try:
            if not key_wrapped:
                return private_key.decrypt(encrypted_material, oaep)
            if len(encrypted_material) <= rsa_bytes:
                raise CryptoError()
            aes_key = private_key.decrypt(encrypted_material[:rsa_bytes], oaep)
            if len(aes_key) != _EPHEMERAL_AES_KEY_BYTES:
                raise CryptoError()
            return aes_key_unwrap_with_padding(aes_key, encrypted_material[rsa_bytes:])
        except (ValueError, InvalidUnwrap):
            raise CryptoError() from None


def open_import_token(root_key: RootKey, key_arn: str, token: bytes) -> ImportToken:
    """The token issued for the key ``key_arn``; CryptoError for any other bytes, including a token of another
    key, of the same key id in another Region or another account."""
    payload = root_key.unwrap(token, _purpose(key_arn))
    if len(payload) < _TOKEN_HEADER.size:
        raise CryptoError()
    version, expiry, algorithm_length = _TOKEN_HEADER.unpack_from(payload)
    start = _TOKEN_HEADER.size
    algorithm = payload[start : start + algorithm_length].decode("ascii", errors="replace")
    if version != _TOKEN_VERSION or algorithm not in _ALGORITHMS:
        raise CryptoError()
    valid_to = _EPOCH + expiry * _MICROSECOND
    return ImportToken(valid_to, algorithm, payload[start + algorithm_length :])
