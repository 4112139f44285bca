"""Where each statement of a policy document sits in its text, as the IAM policy simulator reports it.

SimulatePrincipalPolicy and SimulateCustomPolicy name each matched statement
by its policy and a ``StartPosition`` / ``EndPosition`` (line and column,
both counted from 1).  AWS's answers show where those fall: the start is
just after the ``[`` (or ``,``) that precedes the statement, the end just
after its closing ``}`` — for AWS's own ``AdministratorAccess`` document
(two-space indents) the one statement runs from line 3, column 17 to line 8,
column 6, and in a one-line document ``{"Version":"2012-10-17","Statement":[{...``
it starts at column 38.  A ``Statement`` that is a single object starts just
after its ``:``.  The positions are found by walking the JSON text with the
standard library's decoder; a document the policy parser accepted always
walks cleanly, and one that does not yields no positions.
"""

from __future__ import annotations

import json
from typing import NamedTuple


class Position(NamedTuple):
    line: int
    column: int


class Span(NamedTuple):
    start: Position
    end: Position


_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def statement_spans(text: str) -> tuple[Span, ...]:
    """The span of each statement of the policy document ``text``, in document order (empty if it cannot tell)."""
    try:
        return _spans(text)
    except (ValueError, IndexError):
        return ()


def _spans(text: str) -> tuple[Span, ...]:
    index = _skip(text, 0)
    if text[index] != "{":
        return ()
    index = _skip(text, index + 1)
    while text[index] != "}":
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] != ":":
            return ()
        after_colon = index + 1
        index = _skip(text, after_colon)
        if key == "Statement":
            return _statement_spans(text, after_colon, index)
        _, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return ()


def _statement_spans(text: str, after_colon: int, index: int) -> tuple[Span, ...]:
    if text[index] == "{":
        _, end = _DECODER.raw_decode(text, index)
        return (Span(_position(text, after_colon), _position(text, end)),)
    if text[index] != "[":
        return ()
    spans: list[Span] = []
    start = index + 1
    index = _skip(text, start)
    while text[index] != "]":
        _, end = _DECODER.raw_decode(text, index)
        spans.append(Span(_position(text, start), _position(text, end)))
        index = _skip(text, end)
        if text[index] == ",":
            start = index + 1
            index = _skip(text, start)
    return tuple(spans)


def _skip(text: str, index: int) -> int:
    while text[index] in _SPACE:
        index += 1
    return index


def _position(text: str, index: int) -> Position:
    line_start = text.rfind("\n", 0, index) + 1
    return Position(text.count("\n", 0, index) + 1, index - line_start + 1)
