"""Symmetric KMS keys: AES-256-GCM material, and sealing and opening ciphertext blobs with it.

A symmetric key's material is 32 random bytes.  Each encryption draws a
fresh random 96-bit nonce and authenticates ``blob header || canonical
encryption context`` as AAD (see :mod:`kmsd.crypto.blob` and
:mod:`kmsd.crypto.context`), so neither the header nor the context can be
changed without the tag failing.  Every failure to open a blob is the one
opaque :class:`~kmsd.crypto.errors.CryptoError`.

Usage bound: with random 96-bit nonces NIST SP 800-38D (section 8.3) allows
2^32 encryptions under one key.  Each material generation is its own key, so
rotation (automatic every 365 days by default, or on demand) resets the
count; a deployment expected to exceed ~4 billion encryptions per key per
rotation period should rotate more often.  A future blob format (new version
byte) can lift the bound with per-message derived keys, as AWS KMS does.

:class:`SymmetricKey` holds a prepared AES-GCM context; build it once per
material generation and reuse it (the KMS layer caches it), because
preparing the cipher costs more than one small encryption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from kmsd.crypto.aead import KEY_BYTES, NONCE_BYTES, Aead, Aes256Gcm
from kmsd.crypto.blob import CiphertextBlob, blob_header
from kmsd.crypto.context import canonical_encryption_context
from kmsd.crypto.errors import CryptoError
from kmsd.crypto.randomness import RandomSource

SYMMETRIC_MATERIAL_BYTES = KEY_BYTES  # AES-256
MATERIAL_ID_BYTES = 32  # AWS's KeyMaterialId: 64 hex characters


def new_symmetric_material(rng: RandomSource) -> bytes:
    """Fresh AES-256 key material for a symmetric encryption key."""
    return rng.bytes(SYMMETRIC_MATERIAL_BYTES)


def new_material_id(rng: RandomSource) -> str:
    """A new KeyMaterialId: 64 lowercase hex characters, as AWS returns them."""
    return rng.bytes(MATERIAL_ID_BYTES).hex()


class BlobCipher(Protocol):
    """What seals and opens ciphertext blobs for one key generation: a :class:`SymmetricKey`, whether its
    material is held here or lives in an HSM, or a wrapper around one."""

    def encrypt(self, plaintext: bytes, encryption_context: Mapping[str, str] | None, rng: RandomSource) -> bytes: ...

    def decrypt(self, blob: CiphertextBlob, encryption_context: Mapping[str, str] | None) -> bytes: ...


class SymmetricKey:
    """One generation (``material_version``) of one key's material, ready to seal and open blobs.

    ``material`` is the AES-256 key itself, or the :class:`~kmsd.crypto.aead.Aead` that holds it where
    kmsd cannot read it (a PKCS#11 token: :class:`kmsd.hsm.TokenAead`): the blob's layout, nonce and AAD
    are the same either way, so a blob names its key wherever the key lives.
    """

    __slots__ = ("_aead", "_header", "key_id", "material_version")

    def __init__(self, material: bytes | Aead, key_id: str, material_version: int) -> None:
        self._aead = Aes256Gcm(material) if isinstance(material, bytes) else material
        self._header = blob_header(key_id, material_version)
        self.key_id = key_id
        self.material_version = material_version

    def encrypt(self, plaintext: bytes, encryption_context: Mapping[str, str] | None, rng: RandomSource) -> bytes:
        """The encoded blob for ``plaintext`` bound to ``encryption_context``."""
        nonce = rng.bytes(NONCE_BYTES)
        aad = self._header + canonical_encryption_context(encryption_context)
        sealed = self._aead.seal(nonce, plaintext, aad)
        # Sealing returns ciphertext || tag, which is exactly the blob's tail after the nonce.
        return b"".join((self._header, nonce, sealed))

    def decrypt(self, blob: CiphertextBlob, encryption_context: Mapping[str, str] | None) -> bytes:
        """The plaintext of ``blob``; CryptoError if it is not this key's, or fails authentication."""
        if blob.key_id != self.key_id or blob.material_version != self.material_version:
            raise CryptoError()
        aad = self._header + canonical_encryption_context(encryption_context)
        return self._aead.open(blob.nonce, blob.ciphertext + blob.tag, aad)


def encrypt_symmetric(
    material: bytes,
    key_id: str,
    material_version: int,
    plaintext: bytes,
    encryption_context: Mapping[str, str] | None,
    rng: RandomSource,
) -> bytes:
    """One-shot :meth:`SymmetricKey.encrypt`; returns the encoded :class:`CiphertextBlob`."""
    return SymmetricKey(material, key_id, material_version).encrypt(plaintext, encryption_context, rng)


def decrypt_symmetric(material: bytes, blob: CiphertextBlob, encryption_context: Mapping[str, str] | None) -> bytes:
    """One-shot :meth:`SymmetricKey.decrypt` for the key and version ``blob`` names."""
    return SymmetricKey(material, blob.key_id, blob.material_version).decrypt(blob, encryption_context)
