"""Replacing a deleted IAM user's or role's ARN by its unique id in a stored policy document's principals.

IAM User Guide, "AWS JSON policy elements: Principal": "If your Principal
element in a role trust policy contains an ARN that points to a specific IAM
role, then that ARN transforms to the role's unique principal ID when you save
the policy ... If you delete the role, then you break the relationship ...
the ARN appears as the ID" (the same holds for users, and for KMS key
policies).  A user or role created again under the same name has a new unique
id, so it does not inherit what the old one was allowed.  kmsd stores the
document as the caller wrote it and performs that transformation when the
principal is deleted: :func:`replace_principal` rewrites, in the text, every
string in a ``Principal`` or ``NotPrincipal`` element whose parsed value is
the deleted ARN, and leaves everything else (formatting, conditions, which
IAM does not transform) as it was.

The document is read with a small JSON scanner that decodes strings exactly
as :mod:`json` does (``\\/`` and ``\\u`` escapes included), descends into
every statement, list and duplicate member, and compares ARNs ignoring ASCII
case, so no spelling of the ARN survives in a principal.  The result is
checked again with :func:`json.loads`; a document it cannot prove clean is
an error, never a silent pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# A JSON string token (RFC 8259 section 7); json.loads decodes it exactly as it decodes the whole document.
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
# json's own grammar for the other scalars, with the constants its decoder accepts.
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")
_PRINCIPAL_ELEMENTS = frozenset({"principal", "notprincipal"})


class UnreadableDocument(ValueError):
    """The document is not JSON that :func:`json.loads` would read."""


class RewriteFailed(RuntimeError):
    """The rewritten document still names the principal (a bug: the deletion must not go ahead)."""


def replace_principal(document: str, arn: str, replacement: str) -> str:
    """``document`` with every principal naming ``arn`` (in any case) replaced by ``replacement``.

    ``replacement`` is the deleted principal's unique id, or a renamed user's new ARN.  Raises
    :class:`UnreadableDocument` for text that is not JSON, and :class:`RewriteFailed` if the result
    would still name ``arn`` in a principal (other than as ``replacement`` itself).
    """
    target = arn.lower()
    spans: list[tuple[int, int]] = []
    try:
        end = _value(document, _skip(document, 0), False, target, spans)
    except (IndexError, ValueError, RecursionError) as error:
        raise UnreadableDocument(str(error)) from None
    if _skip(document, end) != len(document):
        raise UnreadableDocument("extra data after the document")
    if not spans:
        return document
    token = json.dumps(replacement)
    pieces: list[str] = []
    last = 0
    for start, stop in spans:
        pieces.append(document[last:start])
        pieces.append(token)
        last = stop
    pieces.append(document[last:])
    rewritten = "".join(pieces)
    if names_principal(rewritten, arn, except_exactly=replacement):
        raise RewriteFailed(f"a principal still names the entity now known as {replacement}")
    return rewritten


def names_principal(document: str, arn: str, except_exactly: str | None = None) -> bool:
    """Whether ``document`` (as :func:`json.loads` reads it) names ``arn`` in a principal, ignoring case.

    A value that is exactly ``except_exactly`` does not count (a rename that changes only the case).
    """
    try:
        parsed = json.loads(document, object_pairs_hook=lambda pairs: pairs)
    except (ValueError, RecursionError):
        return False
    return _names(parsed, False, arn.lower(), except_exactly)


def _names(value: Any, in_principal: bool, target: str, allowed: str | None) -> bool:
    if isinstance(value, str):
        return in_principal and value.lower() == target and value != allowed
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            # An object, as the pairs hook returns it (an array of two-element arrays would parse as lists).
            return any(
                _names(member, in_principal or str(name).lower() in _PRINCIPAL_ELEMENTS, target, allowed)
                for name, member in value
            )
        return any(_names(item, in_principal, target, allowed) for item in value)
    return False


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return position if match is None else match.end()


def _string(text: str, position: int) -> tuple[str, int]:
    """The decoded string token at ``position`` and its end."""
    match = _STRING.match(text, position)
    if match is None:
        raise ValueError(f"malformed string at {position}")
    value: str = json.loads(match.group())
    return value, match.end()


def _value(text: str, position: int, in_principal: bool, target: str, spans: list[tuple[int, int]]) -> int:
    """Scan the JSON value at ``position``; record the spans of matching principal strings; return its end."""
    first = text[position]
    if first == '"':
        value, end = _string(text, position)
        if in_principal and value.lower() == target:
            spans.append((position, end))
        return end
    if first == "{":
        return _object(text, position, in_principal, target, spans)
    if first == "[":
        return _array(text, position, in_principal, target, spans)
    match = _SCALAR.match(text, position)
    if match is None:
        raise ValueError(f"unexpected character at {position}")
    return match.end()


def _object(text: str, position: int, in_principal: bool, target: str, spans: list[tuple[int, int]]) -> int:
    position = _skip(text, position + 1)
    if text[position] == "}":
        return position + 1
    while True:
        if text[position] != '"':
            raise ValueError(f"expected a member name at {position}")
        name, position = _string(text, position)
        position = _skip(text, position)
        if text[position] != ":":
            raise ValueError(f"expected ':' at {position}")
        inside = in_principal or name.lower() in _PRINCIPAL_ELEMENTS
        position = _skip(text, _value(text, _skip(text, position + 1), inside, target, spans))
        if text[position] == "}":
            return position + 1
        if text[position] != ",":
            raise ValueError(f"expected ',' or '}}' at {position}")
        position = _skip(text, position + 1)


def _array(text: str, position: int, in_principal: bool, target: str, spans: list[tuple[int, int]]) -> int:
    position = _skip(text, position + 1)
    if text[position] == "]":
        return position + 1
    while True:
        position = _skip(text, _value(text, position, in_principal, target, spans))
        if text[position] == "]":
            return position + 1
        if text[position] != ",":
            raise ValueError(f"expected ',' or ']' at {position}")
        position = _skip(text, position + 1)
