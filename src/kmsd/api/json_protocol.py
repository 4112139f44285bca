"""AWS's JSON 1.1 protocol (the one KMS speaks): target header in, JSON body in, JSON body or ``__type`` error out.

A request is ``POST /`` with ``X-Amz-Target: TrentService.<Operation>`` and a
JSON object body; a success is HTTP 200 with the output members; an error is
the error's HTTP status with ``{"__type": code, "message": text}``, which is
what botocore reads into ``ClientError.response["Error"]``.

A body that is not a JSON object is ``SerializationException`` (400), and so
is one that Python's parser refuses for its size rather than its syntax:
nesting deeper than the interpreter's recursion limit (``RecursionError``) or
an integer of more digits than ``sys.get_int_max_str_digits()`` allows
(``ValueError``), ``NaN`` / ``Infinity``, which are not JSON, and a number
too large for a double (``1e400``).  Neither may become a 500 with a logged traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from kmsd.errors import AwsError

CONTENT_TYPE = b"application/x-amz-json-1.1"


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259 §6) and would overflow the integer members they reach.
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    # 1e400 or a 5,000-digit decimal parses to infinity, which no integer member can take (int(inf) raises).
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"))`` without building an encoder per call.

    ``JSONEncoder.encode`` builds CPython's C encoder anew on every call; this
    one is built once, so encoding a response costs half as much.  It skips
    the circular-reference check (our responses are trees built from records);
    without the C accelerator, the shared Python encoder is used instead.
    """
    try:
        from _json import encode_basestring_ascii, make_encoder
    except ImportError:
        return _ENCODER.encode
    encode = make_encoder(None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


_encode_compact = _compact_encoder()


def operation_from_target(target: str | None, target_prefix: str) -> str:
    """``TrentService.Encrypt`` → ``Encrypt``; anything else is AWS's UnknownOperationException.

    The operation follows the last dot: CloudTrail's prefix has dots of its own.
    """
    if target:
        prefix, _, operation = target.rpartition(".")
        if prefix == target_prefix and operation:
            return operation
    raise AwsError("UnknownOperationException", "")


def decode_body(body: bytes) -> Any:
    """The request's JSON document; an empty body is an empty object, as AWS treats it."""
    try:
        document = _parse(body)
    # ValueError covers JSONDecodeError, UnicodeDecodeError and an integer past the digit limit;
    # RecursionError is nesting past the interpreter's limit (about 1,000 levels).
    except (ValueError, RecursionError):
        # Only a failed parse can be an empty body: checking it first would copy every body.
        if not body.strip():
            return {}
        raise AwsError("SerializationException", "") from None
    if not isinstance(document, dict):
        raise AwsError("SerializationException", "Start of list found where not expected")
    return document


def _parse(body: bytes) -> Any:
    """``json.loads(body)``, with a short cut for the usual body: a UTF-8 object with nothing around it.

    ``json.loads`` first guesses the encoding (UTF-8, 16 or 32) and matches
    whitespace around the document with regular expressions, which together
    cost more than parsing a KMS request.  A body that starts with ``{`` and a
    non-NUL byte is UTF-8 by ``json.detect_encoding``'s own rule; parsed that
    way, a document that ends exactly at the end of the body is what
    ``json.loads`` returns.  Anything else takes ``json.loads`` itself, errors
    included.
    """
    if body[:1] == b"{" and body[1:2] != b"\0":
        try:
            text = body.decode("utf-8", "surrogatepass")
            document, end = _DECODER.raw_decode(text)
        except (ValueError, RecursionError):
            pass
        else:
            if end == len(text):
                return document
    return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)


def encode_result(result: dict[str, Any]) -> bytes:
    return _encode_compact(result).encode("utf-8")


def encode_error(error: AwsError) -> bytes:
    body: dict[str, str] = {"__type": error.code}
    if error.message:
        body["message"] = error.message
    return _encode_compact(body).encode("utf-8")
