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

A root key also has a *check value* (:meth:`FileRootKey.check_value`) that
the store keeps, so that a wrong or regenerated root key is refused at start
instead of splitting the store between two roots (see
:mod:`kmsd.root_binding`).  It is an HMAC-SHA256 of a fixed label under a
key derived from the root key with HKDF-SHA256: it reveals nothing about the
root key, and the derived key is used for nothing else, so the check value
cannot help forge or open a wrapped value.

The audit trail's hash chain is sealed with HMAC-SHA256 under another key derived the same way
(:meth:`FileRootKey.audit_chain_key`, its own HKDF info): whoever can write to the database but does not hold
the root key cannot compute the seal of an event they add or change.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import stat
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmsd.crypto.aead import KEY_BYTES, NONCE_BYTES, TAG_BYTES, Aes256Gcm
from kmsd.crypto.errors import CryptoError
from kmsd.crypto.randomness import RandomSource, SystemRandomSource

ROOT_KEY_ENV = "KMSD_ROOT_KEY"
ROOT_KEY_BYTES = KEY_BYTES
WRAP_FORMAT_VERSION = 1
_VERSION_PREFIX = bytes([WRAP_FORMAT_VERSION])
# The check value's format, its HKDF info and the label it authenticates; changing any of them is a new version.
CHECK_VALUE_PREFIX = "kcv1:"
_CHECK_KEY_INFO = b"kmsd/root-key-check/v1"
_CHECK_LABEL = b"kmsd root key check value"
_AUDIT_CHAIN_KEY_INFO = b"kmsd/audit-chain/v1"


class RootKey(Protocol):
    def wrap(self, plaintext: bytes, purpose: bytes) -> bytes:
        """``plaintext`` sealed so that only :meth:`unwrap` with the same ``purpose`` opens it."""
        ...

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes:
        """The plaintext :meth:`wrap` sealed for ``purpose``; CryptoError on anything else."""
        ...

    def audit_chain_key(self) -> bytes:
        """The HMAC key of the audit trail's hash chain: derived from the root key, used for nothing else."""
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
        # Computed once: the key bytes are not kept beyond the AEAD context that needs them.
        self._check_value = _check_value(key)
        self._audit_chain_key = _derive(key, _AUDIT_CHAIN_KEY_INFO)

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

    @classmethod
    def load(cls, path: Path, rng: RandomSource | None = None) -> FileRootKey:
        """Load the key at ``path``; RootKeyError if it is missing (never creates one)."""
        try:
            return cls(_read(path), rng)
        except FileNotFoundError:
            raise RootKeyError(f"root key {path} does not exist") from None
        except OSError as error:
            raise RootKeyError(f"cannot use root key {path}: {error.strerror or error}") from None

    def check_value(self) -> str:
        """The value a store keeps to recognise this root key later (see the module docstring)."""
        return self._check_value

    def matches(self, check_value: str) -> bool:
        """Whether ``check_value`` (as stored) is this root key's; RootKeyError for an unknown format."""
        if not check_value.startswith(CHECK_VALUE_PREFIX):
            raise RootKeyError("the store's root key check value has a format this kmsd does not know: upgrade kmsd")
        return hmac.compare_digest(check_value.encode("ascii", "replace"), self._check_value.encode("ascii"))

    def audit_chain_key(self) -> bytes:
        return self._audit_chain_key

    def wrap(self, plaintext: bytes, purpose: bytes) -> bytes:
        nonce = self._rng.bytes(NONCE_BYTES)
        sealed = self._aead.seal(nonce, plaintext, _VERSION_PREFIX + purpose)
        return b"".join((_VERSION_PREFIX, nonce, sealed))

    def unwrap(self, wrapped: bytes, purpose: bytes) -> bytes:
        if len(wrapped) < 1 + NONCE_BYTES + TAG_BYTES or wrapped[0] != WRAP_FORMAT_VERSION:
            raise CryptoError()
        nonce = wrapped[1 : 1 + NONCE_BYTES]
        return self._aead.open(nonce, wrapped[1 + NONCE_BYTES :], _VERSION_PREFIX + purpose)


def _derive(key: bytes, info: bytes) -> bytes:
    """A 32-byte key of its own for one use (``info``), from the root key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _check_value(key: bytes) -> str:
    # HKDF gives the check its own key, so the root key itself never touches the fixed label.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CHECK_KEY_INFO).derive(key)
    mac = HMAC(derived, hashes.SHA256())
    mac.update(_CHECK_LABEL)
    return CHECK_VALUE_PREFIX + base64.b64encode(mac.finalize()).decode("ascii")


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
