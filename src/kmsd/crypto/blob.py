"""The ciphertext blob that Encrypt, GenerateDataKey and ReEncrypt return and Decrypt accepts.

Layout (big-endian), 49 bytes of overhead around the ciphertext::

    offset  size  field
    0       1     format version: 0x01 for a key id that is a UUID, 0x02 for a
                  multi-Region key id (``mrk-`` and 32 hex digits)
    1       16    key id: the key's UUID, or the 32 hex digits of its mrk- id, as 16 bytes
    17      4     key-material version (uint32)
    21      12    AES-GCM nonce
    33      n     ciphertext (as long as the plaintext)
    33+n    16    AES-GCM tag

The first 21 bytes are the *header*.  The blob names its key and material
generation, so Decrypt needs no ``KeyId`` and rotation never strands old
ciphertexts; the version byte lets the format change later without breaking
stored blobs.  The header is authenticated: :mod:`kmsd.crypto.symmetric`
binds ``header || canonical encryption context`` as AES-GCM AAD, so changing
any header field (say, pointing the blob at another key's older material)
makes the tag fail.  :meth:`CiphertextBlob.decode` rejects anything malformed
with the opaque :class:`~kmsd.crypto.errors.CryptoError`.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass

from kmsd.crypto.aead import NONCE_BYTES, TAG_BYTES
from kmsd.crypto.errors import CryptoError

FORMAT_VERSION = 1
MULTI_REGION_FORMAT_VERSION = 2  # the same layout, naming a multi-Region key ("mrk-" + 32 hex digits)
MULTI_REGION_PREFIX = "mrk-"
_MULTI_REGION_KEY_ID = re.compile(r"^mrk-[0-9a-f]{32}$")
_HEADER = struct.Struct(">B16sI")
HEADER_BYTES = _HEADER.size  # 21
MIN_BLOB_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES  # 49: an empty ciphertext
_MAX_UINT32 = 0xFFFFFFFF


def key_id_bytes(key_id: str) -> bytes:
    """The 16 bytes of a canonical key id (lowercase UUID or ``mrk-`` id); ValueError otherwise."""
    return _key_id_field(key_id)[1]


def _key_id_field(key_id: str) -> tuple[int, bytes]:
    """The format version that names ``key_id``'s kind, and its 16 bytes."""
    if key_id.startswith(MULTI_REGION_PREFIX):
        if _MULTI_REGION_KEY_ID.match(key_id) is None:
            raise ValueError(f"key id {key_id!r} is not a canonical multi-Region key id")
        return MULTI_REGION_FORMAT_VERSION, bytes.fromhex(key_id[len(MULTI_REGION_PREFIX) :])
    parsed = uuid.UUID(key_id)
    if str(parsed) != key_id:
        raise ValueError(f"key id {key_id!r} is not a canonical lowercase UUID")
    return FORMAT_VERSION, parsed.bytes


def _key_id_from_field(version: int, raw_key_id: bytes) -> str:
    """The key id a decoded header names (the inverse of :func:`_key_id_field`)."""
    if version == MULTI_REGION_FORMAT_VERSION:
        return MULTI_REGION_PREFIX + raw_key_id.hex()
    return str(uuid.UUID(bytes=raw_key_id))


def blob_header(key_id: str, material_version: int) -> bytes:
    """The authenticated 21-byte header for blobs under ``key_id``'s material ``material_version``."""
    if not 0 <= material_version <= _MAX_UINT32:
        raise ValueError(f"material version {material_version} does not fit in a uint32")
    version, raw_key_id = _key_id_field(key_id)
    return _HEADER.pack(version, raw_key_id, material_version)


@dataclass(frozen=True)
class CiphertextBlob:
    """One decoded blob.  Build it with :func:`kmsd.crypto.symmetric.encrypt_symmetric`, not by hand."""

    key_id: str  # canonical lowercase UUID, or mrk- and 32 lowercase hex digits
    material_version: int
    nonce: bytes
    ciphertext: bytes
    tag: bytes

    def __post_init__(self) -> None:
        # Fields that cannot be encoded are a programming error, not an attack: ValueError, not CryptoError.
        blob_header(self.key_id, self.material_version)
        if len(self.nonce) != NONCE_BYTES:
            raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
        if len(self.tag) != TAG_BYTES:
            raise ValueError(f"tag must be {TAG_BYTES} bytes")

    @property
    def header(self) -> bytes:
        return blob_header(self.key_id, self.material_version)

    def encode(self) -> bytes:
        return b"".join((self.header, self.nonce, self.ciphertext, self.tag))

    @classmethod
    def decode(cls, data: bytes) -> CiphertextBlob:
        """Parse a blob; any malformation (short, unknown version, ...) raises the opaque CryptoError."""
        if len(data) < MIN_BLOB_BYTES:
            raise CryptoError()
        version, raw_key_id, material_version = _HEADER.unpack_from(data)
        if version not in (FORMAT_VERSION, MULTI_REGION_FORMAT_VERSION):
            raise CryptoError()
        nonce_end = HEADER_BYTES + NONCE_BYTES
        tag_start = len(data) - TAG_BYTES
        return cls(
            key_id=_key_id_from_field(version, raw_key_id),
            material_version=material_version,
            nonce=bytes(data[HEADER_BYTES:nonce_end]),
            ciphertext=bytes(data[nonce_end:tag_start]),
            tag=bytes(data[tag_start:]),
        )
