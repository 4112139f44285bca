"""AWS's JSON 1.1 protocol (the one KMS speaks): target header in, JSON body in, JSON body or ``__type`` error out.

A request is ``POST /`` with ``X-Amz-Target: TrentService.<Operation>`` and a
JSON object body; a success is HTTP 200 with the output members; an error is
the error's HTTP status with ``{"__type": code, "message": text}``, which is
what botocore reads into ``ClientError.response["Error"]``.

A body that is not a JSON object is ``SerializationException`` (400), and so
is one that Python's parser refuses for its size rather than its syntax:
nesting deeper than the interpreter's recursion limit (``RecursionError``) or
an integer of more digits than ``sys.get_int_max_str_digits()`` allows
(``ValueError``), ``NaN`` / ``Infinity``, which are not JSON, a number
too large for a double (``1e400``), and text holding a lone surrogate
(``"\ud800"``), which is no Unicode character.  Neither may become a 500 with a logged traceback.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kmsd.errors import AwsError
from kmsd.json_text import compact_json

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
    # A lone surrogate comes from an escape or from bytes beyond ASCII (surrogates encoded as UTF-8, or a UTF-16
    # body): only a body holding either is walked.
    if (b"\\" in body or not body.isascii()) and _holds_lone_surrogate(document):
        raise AwsError("SerializationException", "")
    return document


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether some text of ``value`` (a key too) is not Unicode: a surrogate without its pair (``"\\ud800"``).

    Python's parser accepts one, as JSON's grammar does, but it is no character: the store (UTF-8) and the audit
    trail could not keep it, and a name or an alias holding one would be a different name to every other reader.
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(key) or _holds_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_lone_surrogate(item) for item in value)
    return False


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
    return compact_json(result).encode("utf-8")


def encode_error(error: AwsError) -> bytes:
    body: dict[str, str] = {"__type": error.code}
    if error.message:
        body["message"] = error.message
    return compact_json(body).encode("utf-8")
