"""A symmetric KMS key whose AES-256 key lives in a PKCS#11 token: kmsd's ciphertext blobs, sealed inside the token.

:class:`TokenKey` seals and opens exactly the blobs :class:`~kmsd.crypto.SymmetricKey`
does (:mod:`kmsd.crypto.blob`: version byte, key id, material version, a
fresh random 96-bit nonce, ciphertext, 128-bit tag, with ``header || canonical
encryption context`` as AES-GCM AAD), so a blob names its key whether the key
lives in kmsd or in a token, and Decrypt needs no KeyId.  Only the AES-GCM
step runs elsewhere: in the token, through PKCS#11's ``CKM_AES_GCM`` with the
nonce and AAD kmsd gives it.  A blob that does not open is the opaque
:class:`~kmsd.crypto.CryptoError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from kmsd.crypto import CiphertextBlob, CryptoError, RandomSource, canonical_encryption_context
from kmsd.crypto.aead import NONCE_BYTES
from kmsd.crypto.blob import blob_header
from kmsd.hsm.tokens import TokenSession


class TokenKey:
    """One KMS key's token object, ready to seal and open blobs for ``key_id`` at ``material_version``."""

    __slots__ = ("_header", "_object_label", "_session", "key_id", "material_version")

    def __init__(self, session: TokenSession, object_label: str, key_id: str, material_version: int) -> None:
        self._session = session
        self._object_label = object_label
        self._header = blob_header(key_id, material_version)
        self.key_id = key_id
        self.material_version = material_version

    def encrypt(self, plaintext: bytes, encryption_context: Mapping[str, str] | None, rng: RandomSource) -> bytes:
        nonce = rng.bytes(NONCE_BYTES)
        aad = self._header + canonical_encryption_context(encryption_context)
        sealed = self._session.encrypt(self._object_label, nonce, plaintext, aad)
        return b"".join((self._header, nonce, sealed))

    def decrypt(self, blob: CiphertextBlob, encryption_context: Mapping[str, str] | None) -> bytes:
        if blob.key_id != self.key_id or blob.material_version != self.material_version:
            raise CryptoError()
        aad = self._header + canonical_encryption_context(encryption_context)
        return self._session.decrypt(self._object_label, blob.nonce, blob.ciphertext + blob.tag, aad)
