"""Request ids as AWS writes them: a fresh random UUID (version 4) per request.

An id built from a counter would tell any caller how many requests the
server has answered between two of its own (issue 9, item 19), so every id
is 122 bits from the operating system's CSPRNG.  The UUID is formatted
directly from the random bytes, which costs about a microsecond, less than
half of ``str(uuid.uuid4())``; the result is exactly what that would give
for the same bytes.
"""

from __future__ import annotations

import os

# RFC 9562 §5.4: the variant bits 10 make the first hex digit of the fourth group 8, 9, a or b.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_request_id() -> str:
    """A random version-4 UUID in its canonical lower-case form, e.g. ``0f8e4c2a-…-4…-…``."""
    digits = os.urandom(16).hex()
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_VARIANT_DIGIT[digits[16]]}{digits[17:20]}-{digits[20:]}"
