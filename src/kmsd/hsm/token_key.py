"""AES-256-GCM run inside a PKCS#11 token: the :class:`~kmsd.crypto.aead.Aead` of a KMS key whose key lives there.

A key of an AWS_CLOUDHSM custom key store, and the outer layer of a key of an
external key store (:mod:`kmsd.crypto.double_sealed`), seal and open exactly
the blobs a key kmsd holds does: it is a :class:`~kmsd.crypto.SymmetricKey` built on a
:class:`TokenAead` instead of key material (:mod:`kmsd.crypto.blob`: version
byte, key id, material version, a fresh random 96-bit nonce, ciphertext,
128-bit tag, with ``header || canonical encryption context`` as AES-GCM AAD),
so a blob names its key whether the key lives in kmsd or in a token, and
Decrypt needs no KeyId.  Only the AES-GCM step runs elsewhere: in the token,
through PKCS#11's ``CKM_AES_GCM`` with the nonce and AAD kmsd gives it.  A
blob that does not open is the opaque :class:`~kmsd.crypto.CryptoError`.
"""

from __future__ import annotations

from kmsd.crypto.aead import NONCE_BYTES, TAG_BYTES
from kmsd.crypto.errors import CryptoError
from kmsd.hsm.tokens import TokenSession


class TokenAead:
    """The AES-256 key ``object_label`` of a logged-in token session, as an AEAD."""

    __slots__ = ("_object_label", "_session")

    def __init__(self, session: TokenSession, object_label: str) -> None:
        self._session = session
        self._object_label = object_label

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``ciphertext || tag``, computed in the token; TokenError when the key or token cannot be used."""
        return self._session.encrypt(self._object_label, nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of ``ciphertext || tag``, opened in the token; CryptoError if it does not authenticate."""
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise CryptoError()
        return self._session.decrypt(self._object_label, nonce, sealed, aad)
