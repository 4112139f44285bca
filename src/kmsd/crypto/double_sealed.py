"""Double encryption: a blob sealed by one cipher, whose whole blob is then sealed again by another.

AWS encrypts with a key of an external key store twice: first under KMS key
material held in AWS KMS, then under the external key in the external key
manager, so that neither alone opens a ciphertext ("Double encryption",
external key stores).  kmsd does the same for such keys: ``inner`` is the
key's own material kept by kmsd (a :class:`~kmsd.crypto.SymmetricKey`),
``outer`` the external key in the PKCS#11 token (a ``SymmetricKey`` on a
:class:`~kmsd.hsm.TokenAead`).
Both bind the encryption context, and both blobs name the same key and
material version, so the outer blob is an ordinary kmsd blob and Decrypt
needs no KeyId.  Anything that does not open is the opaque
:class:`~kmsd.crypto.CryptoError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from kmsd.crypto.blob import CiphertextBlob
from kmsd.crypto.randomness import RandomSource
from kmsd.crypto.symmetric import BlobCipher


class DoubleSealed:
    """A :class:`BlobCipher` that seals with ``inner`` first and ``outer`` second, and opens in reverse."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, inner: BlobCipher, outer: BlobCipher) -> None:
        self._inner = inner
        self._outer = outer

    def encrypt(self, plaintext: bytes, encryption_context: Mapping[str, str] | None, rng: RandomSource) -> bytes:
        return self._outer.encrypt(self._inner.encrypt(plaintext, encryption_context, rng), encryption_context, rng)

    def decrypt(self, blob: CiphertextBlob, encryption_context: Mapping[str, str] | None) -> bytes:
        inner = CiphertextBlob.decode(self._outer.decrypt(blob, encryption_context))
        return self._inner.decrypt(inner, encryption_context)
