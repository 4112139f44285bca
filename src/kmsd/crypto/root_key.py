"""The root of trust: the key that wraps every key's material and every secret access key at rest.

Nothing secret is stored in the clear; the store holds values wrapped under
a :class:`RootKey`.  :class:`RootKey` is a Protocol so that a PKCS#11 HSM can
take the file's place later without the callers noticing.

:class:`FileRootKey` wraps with AES-256-GCM.  A wrapped value is::

    version (0x01) || nonce (12 random bytes) || ciphertext || tag (16)

and the AAD is ``version || purpose``.  ``purpose`` names what the value is
for (e.g. ``kmsd/key-material/<key id>/<version>``), so a wrapped value cannot
be moved to another key, another material generation or another kind of
secret: unwrapping with any other purpose fails with the opaque
:class:`~kmsd.crypto.errors.CryptoError`.

The key itself is 32 random bytes, base64 on one line, either in the
``KMSD_ROOT_KEY`` environment variable or in a file that
:meth:`FileRootKey.load_or_create` creates in the data directory with mode
0600 on first start.  Decision on permissions: like OpenSSH with private
keys, kmsd *refuses* (``RootKeyError``) a root-key file that the group or
others may read or write, because a readable root key unwraps everything
in the store; fix it with ``chmod 600``.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import tempfile
from pathlib import Path
from typing import Protocol

from kmsd.crypto.aead import KEY_BYTES, NONCE_BYTES, TAG_BYTES, Aes256Gcm
from kmsd.crypto.errors import CryptoError
from kmsd.crypto.randomness import RandomSource, SystemRandomSource

ROOT_KEY_ENV = "KMSD_ROOT_KEY"
ROOT_KEY_BYTES = KEY_BYTES
WRAP_FORMAT_VERSION = 1
_VERSION_PREFIX = bytes([WRAP_FORMAT_VERSION])


class RootKey(Protocol):
    def wrap(self, plaintext: bytes, purpose: bytes) -> bytes:
        """``plaintext`` sealed so that only :meth:`unwrap` with the same ``purpose`` opens it."""
        ...

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes:
        """The plaintext :meth:`wrap` sealed for ``purpose``; CryptoError on anything else."""
        ...


class RootKeyError(Exception):
    """The root key could not be loaded or created (bad encoding, wrong size, unsafe file permissions)."""


class FileRootKey:
    """A root key held in memory, loaded from a file or from ``KMSD_ROOT_KEY``."""

    def __init__(self, key: bytes, rng: RandomSource | None = None) -> None:
        if len(key) != ROOT_KEY_BYTES:
            raise RootKeyError(f"a root key is {ROOT_KEY_BYTES} bytes, not {len(key)}")
        self._aead = Aes256Gcm(key)
        self._rng: RandomSource = rng if rng is not None else SystemRandomSource()

    @classmethod
    def from_env(cls, value: str, rng: RandomSource | None = None) -> FileRootKey:
        """From the ``KMSD_ROOT_KEY`` value: base64 of 32 bytes."""
        return cls(_decode(value, ROOT_KEY_ENV), rng)

    @classmethod
    def load_or_create(cls, path: Path, rng: RandomSource | None = None) -> FileRootKey:
        """Load the key at ``path``, or create it (mode 0600) with 32 fresh random bytes if absent."""
        source: RandomSource = rng if rng is not None else SystemRandomSource()
        try:
            if not path.exists():
                _create(path, base64.b64encode(source.bytes(ROOT_KEY_BYTES)) + b"\n")
            return cls(_read(path), source)
        except OSError as error:
            raise RootKeyError(f"cannot use root key {path}: {error.strerror or error}") from None

    def wrap(self, plaintext: bytes, purpose: bytes) -> bytes:
        nonce = self._rng.bytes(NONCE_BYTES)
        sealed = self._aead.seal(nonce, plaintext, _VERSION_PREFIX + purpose)
        return b"".join((_VERSION_PREFIX, nonce, sealed))

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes:
        if len(wrapped) < 1 + NONCE_BYTES + TAG_BYTES or wrapped[0] != WRAP_FORMAT_VERSION:
            raise CryptoError()
        nonce = wrapped[1 : 1 + NONCE_BYTES]
        return self._aead.open(nonce, wrapped[1 + NONCE_BYTES :], _VERSION_PREFIX + purpose)


def _decode(text: str | bytes, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise RootKeyError(f"{where} is not base64 of {ROOT_KEY_BYTES} bytes") from None
    if len(key) != ROOT_KEY_BYTES:
        raise RootKeyError(f"{where} is not base64 of {ROOT_KEY_BYTES} bytes")
    return key


def _read(path: Path) -> bytes:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise RootKeyError(f"root key {path} is not a regular file")
    if os.name == "posix" and info.st_mode & 0o077:
        raise RootKeyError(
            f"root key {path} is accessible by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    return _decode(path.read_bytes(), f"root key {path}")


def _create(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` (mode 0600) unless another process got there first."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Write a complete temporary file, then hard-link it into place: the link fails if the path
    # exists, so two servers starting at once never overwrite each other's key, and no reader
    # ever sees a half-written file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".root-key-")  # mkstemp uses mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
    finally:
        os.unlink(temporary)
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
