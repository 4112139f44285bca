"""The one exception the crypto layer raises when a ciphertext or wrapped value cannot be opened.

pyca/cryptography's ``InvalidToken`` is the model: a wrong tag, a truncated
blob, an unknown format version, a wrong purpose or a missing key generation
all become the same :class:`CryptoError`, with no message that tells them
apart, so a caller probing with crafted blobs learns nothing from the failure.
The KMS layer maps it to ``InvalidCiphertextException`` without a reason.
"""

from __future__ import annotations


class CryptoError(Exception):
    """A ciphertext, blob or wrapped value could not be decoded or authenticated.  Carries no reason."""

    def __init__(self) -> None:
        super().__init__("the ciphertext could not be decrypted")
