"""UUIDs in their canonical text, formatted straight from their bytes: random ones and time-ordered ones.

``str(uuid.uuid4())`` builds an integer and a ``UUID`` object first; formatting the 32 hex digits of the bytes
directly costs about a microsecond, less than half of that, and gives exactly the same text for the same bytes.
Every request has an id and every audit event another, so the difference is paid on every call.

Request ids are random (version 4): an id built from a counter or a clock would tell a caller how many requests
the server answered between two of its own (issue 9, item 19).  Audit event ids are time-ordered (version 7,
RFC 9562 §5.7: 48 bits of Unix milliseconds, then 74 random bits): the store indexes them for LookupEvents'
``EventId``, and a new id then lands at the end of that index, not on a random page of it.  An event's time is
in its record anyway, and only its account can read it.
"""

from __future__ import annotations

import os
import time

# RFC 9562 §4.1: the variant bits 10 make the first hex digit of the fourth group 8, 9, a or b.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def random_uuid() -> str:
    """A random version-4 UUID, e.g. ``0f8e4c2a-…-4…-…``: 122 bits of the operating system's CSPRNG."""
    return _formatted(os.urandom(16).hex(), "4")


def time_ordered_uuid(unix_ms: int | None = None) -> str:
    """A version-7 UUID: ``unix_ms`` (now, by default) in its first 48 bits, then 74 random bits."""
    if unix_ms is None:
        unix_ms = time.time_ns() // 1_000_000
    return _formatted(f"{unix_ms & 0xFFFF_FFFF_FFFF:012x}" + os.urandom(10).hex(), "7")


def _formatted(digits: str, version: str) -> str:
    """32 hex digits as a UUID of ``version``: its version digit and variant bits set, the rest kept."""
    variant = _VARIANT_DIGIT[digits[16]]
    return f"{digits[:8]}-{digits[8:12]}-{version}{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"
