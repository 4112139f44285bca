"""AES-256-GCM with 96-bit nonces and 128-bit tags: the one AEAD construction kmsd uses.

Both the root key (wrapping) and symmetric KMS keys (ciphertext blobs) seal
and open through :class:`Aes256Gcm`, a thin layer over pyca/cryptography's
``AESGCM`` that fixes the parameters and turns ``InvalidTag`` into the
opaque :class:`~kmsd.crypto.errors.CryptoError`.  The NIST CAVP known-answer
tests in ``tests/crypto`` run through this class, so they cover the exact
path production data takes.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsd.crypto.errors import CryptoError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class Aead(Protocol):
    """What seals and opens for a blob: :class:`Aes256Gcm` over material kmsd holds, or AES-256-GCM run
    inside a PKCS#11 token (:class:`kmsd.hsm.TokenAead`), where the key never leaves the token."""

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...


class Aes256Gcm:
    __slots__ = ("_aesgcm",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"an AES-256 key is {KEY_BYTES} bytes, not {len(key)}")
        self._aesgcm = AESGCM(key)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``ciphertext || tag``."""
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"a nonce is {NONCE_BYTES} bytes")
        return self._aesgcm.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of ``ciphertext || tag``; CryptoError if it does not authenticate."""
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise CryptoError()
        try:
            return self._aesgcm.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise CryptoError() from None
