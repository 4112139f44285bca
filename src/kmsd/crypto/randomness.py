"""Randomness as a dependency: the server draws from the OS, tests draw from a seeded generator.

Every random value kmsd produces (key material, nonces, data keys, key ids,
``GenerateRandom`` output) comes from a :class:`RandomSource` passed in by the
caller, so a test can replay a run byte for byte without patching ``os``.
:class:`SeededRandomSource` is deterministic and therefore *not* secret: it
exists for tests only and must never back a server.
"""

from __future__ import annotations

import builtins
import os
import random
import threading
from typing import Protocol


class RandomSource(Protocol):
    def bytes(self, n: int) -> builtins.bytes:
        """``n`` random bytes (``n`` >= 0)."""
        ...


class SystemRandomSource:
    """The operating system's CSPRNG (``os.urandom``)."""

    def bytes(self, n: int) -> builtins.bytes:
        return os.urandom(n)


class SeededRandomSource:
    """A reproducible byte stream from ``seed``.  Tests only: anyone who knows the seed knows every byte."""

    def __init__(self, seed: int) -> None:
        self._generator = random.Random(seed)
        # The ASGI server calls handlers from several threads; Random is not safe to share without a lock.
        self._lock = threading.Lock()

    def bytes(self, n: int) -> builtins.bytes:
        if n < 0:
            raise ValueError("cannot draw a negative number of bytes")
        with self._lock:
            return self._generator.randbytes(n)
