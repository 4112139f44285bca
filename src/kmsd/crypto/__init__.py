"""kmsd's hazmat layer: root-key wrapping, randomness, the encryption-context encoding and ciphertext blobs.

This package imports only the standard library, pyca/cryptography, and two
encoding libraries (cbor2 and asn1crypto, for AWS Nitro Enclaves attestation
documents and CMS); every primitive comes from ``cryptography`` (AES-256-GCM
via ``AESGCM``).
Its failures are deliberately opaque: anything that cannot be decoded or
authenticated raises :class:`CryptoError` and nothing else, and the KMS
layer turns that into ``InvalidCiphertextException`` with no reason.

Modules: :mod:`~kmsd.crypto.aead` (AES-256-GCM, the one construction),
:mod:`~kmsd.crypto.root_key` (the root of trust),
:mod:`~kmsd.crypto.randomness`, :mod:`~kmsd.crypto.context` (canonical
encryption context), :mod:`~kmsd.crypto.blob` (the blob format),
:mod:`~kmsd.crypto.symmetric` (AES-GCM keys that seal and open blobs),
:mod:`~kmsd.crypto.key_spec` (what a key of each key spec can do),
:mod:`~kmsd.crypto.attestation` (Nitro Enclaves attestation documents) and
:mod:`~kmsd.crypto.cms` (CMS EnvelopedData to an enclave's key).
"""

from kmsd.crypto.blob import CiphertextBlob
from kmsd.crypto.context import canonical_encryption_context
from kmsd.crypto.errors import CryptoError
from kmsd.crypto.key_spec import KeySpec
from kmsd.crypto.randomness import RandomSource, SeededRandomSource, SystemRandomSource
from kmsd.crypto.root_key import ROOT_KEY_ENV, FileRootKey, RootKey, RootKeyError
from kmsd.crypto.symmetric import (
    BlobCipher,
    SymmetricKey,
    decrypt_symmetric,
    encrypt_symmetric,
    new_material_id,
    new_symmetric_material,
)

__all__ = [
    "ROOT_KEY_ENV",
    "BlobCipher",
    "CiphertextBlob",
    "CryptoError",
    "FileRootKey",
    "KeySpec",
    "RandomSource",
    "RootKey",
    "RootKeyError",
    "SeededRandomSource",
    "SymmetricKey",
    "SystemRandomSource",
    "canonical_encryption_context",
    "decrypt_symmetric",
    "encrypt_symmetric",
    "new_material_id",
    "new_symmetric_material",
]
