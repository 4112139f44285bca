"""The canonical byte encoding of a KMS encryption context, the form in which it is bound as AAD.

An encryption context is a map of strings.  To authenticate it, the map is
turned into bytes that are the same for equal maps and different for
different ones (moto joins keys and values without lengths, so
``{"ab": "c"}`` and ``{"a": "bc"}`` authenticate the same; this encoding
cannot).  Layout, all integers big-endian uint32::

    count || (len(key) || key || len(value) || value) * count

with the pairs sorted by the UTF-8 bytes of their keys, so the order in which
a client sent them never matters.  The empty context and no context encode
identically (``count`` = 0), matching KMS, where omitting the context and
sending ``{}`` decrypt the same ciphertexts.  Strings are encoded with
``surrogatepass`` so that a lone surrogate (legal in JSON ``\\ud800``
escapes) still has exactly one encoding instead of raising.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_UINT32 = struct.Struct(">I")
_EMPTY = _UINT32.pack(0)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def canonical_encryption_context(ctx: Mapping[str, str] | None) -> bytes:
    """The injective, order-independent encoding of ``ctx``; ``None`` and ``{}`` give the same bytes."""
    if not ctx:
        return _EMPTY
    pairs = sorted((_utf8(key), _utf8(value)) for key, value in ctx.items())
    parts = [_UINT32.pack(len(pairs))]
    for key, value in pairs:
        parts.append(_UINT32.pack(len(key)))
        parts.append(key)
        parts.append(_UINT32.pack(len(value)))
        parts.append(value)
    return b"".join(parts)
