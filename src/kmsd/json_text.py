"""Compact JSON text (``json.dumps(value, separators=(",", ":"))``), without building an encoder per call.

``json.dumps`` and ``JSONEncoder.encode`` build CPython's C encoder anew on every call; :func:`compact_json` uses
one built once, so encoding costs about two thirds as much.  Every KMS answer (:mod:`kmsd.api.json_protocol`)
and every stored audit record (:mod:`kmsd.audit.chain`) is encoded this way.  The text is ASCII (anything else
``\\u``-escaped), so it is valid UTF-8 whatever the strings held, a lone surrogate included.  There is no
check for circular references: the values are trees built from records.  Without the C accelerator, the
standard library's Python encoder is used instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _built_once() -> Callable[[Any], str]:
    try:
        from _json import encode_basestring_ascii, make_encoder
    except ImportError:
        return _ENCODER.encode
    encode = make_encoder(None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


compact_json: Callable[[Any], str] = _built_once()
