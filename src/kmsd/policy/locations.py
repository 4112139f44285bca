"""Where each element of a JSON policy text is: the spans IAM Access Analyzer's findings point at.

``ValidatePolicy`` locates a finding by a path into the document
(``[{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 1}]``)
and by the span of text the path names, each end a ``{line, column, offset}``
(line from 1, column and offset from 0; the end is exclusive).  Python's
``json`` module keeps no positions, so :class:`DocumentMap` walks the text
once more, after ``json`` has accepted it, and records the span of every
value and of every object key.  Offsets count characters (code points) of
the text as given.  A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``,
the three ways JSON whitespace can break one.

A path element is a pair: ``("value", name)`` for the value of an object
member, ``("key", name)`` for the member's name itself, ``("index", n)`` for
an array item.  Findings are made from the parsed policy, where a single
string and a one-item list read the same (``"Action": "kms:Encrypt"``), so
:meth:`DocumentMap.resolve` skips an ``("index", 0)`` that meets a value
which is not an array; and a path that goes further than the text (an element
the document left out) resolves to its deepest element that exists.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from json import decoder as json_decoder
from typing import Any

# The json module's own string scanner (typeshed does not declare it): (text, offset after the quote) -> (string,
# offset after the closing quote).
scanstring: Callable[[str, int], tuple[str, int]] = json_decoder.scanstring  # type: ignore[attr-defined]

PathElement = tuple[str, str | int]
Path = tuple[PathElement, ...]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def value(name: str) -> PathElement:
    return ("value", name)


def key(name: str) -> PathElement:
    return ("key", name)


def index(position: int) -> PathElement:
    return ("index", position)


def statement_path(statement_index: int, *rest: PathElement) -> Path:
    """The path of statement ``statement_index``, then ``rest``."""
    return (value("Statement"), index(statement_index), *rest)


@dataclass(frozen=True)
class Position:
    line: int  # from 1
    column: int  # from 0
    offset: int  # from 0, in characters

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column, "offset": self.offset}


@dataclass(frozen=True)
class Span:
    start: Position
    end: Position  # exclusive

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.to_json(), "end": self.end.to_json()}


@dataclass(frozen=True)
class Location:
    """A path into the document and the span of text it names, as ``ValidatePolicy`` gives them."""

    path: Path
    span: Span

    def to_json(self) -> dict[str, Any]:
        return {"path": [{kind: name} for kind, name in self.path], "span": self.span.to_json()}


class LineIndex:
    """Line and column of an offset in any text (a JSON syntax error's place is in text that is not JSON)."""

    def __init__(self, text: str) -> None:
        self._length = len(text)
        self._starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    def position(self, offset: int) -> Position:
        """The position of character ``offset``, clamped to the text."""
        offset = max(0, min(offset, self._length))
        line = bisect.bisect_right(self._starts, offset) - 1
        return Position(line + 1, offset - self._starts[line], offset)

    def span(self, start: int, end: int) -> Span:
        return Span(self.position(start), self.position(end))


@dataclass
class _Node:
    start: int
    end: int
    members: dict[str, tuple[_Node, _Node]] | None = None  # name -> (key node, value node)
    items: list[_Node] | None = None


class DocumentMap:
    """The spans of the values and object keys of one JSON text (see the module docstring)."""

    def __init__(self, text: str) -> None:
        """Map ``text``; ValueError when it is not one JSON value (``json.loads`` should have accepted it)."""
        self.text = text
        self.lines = LineIndex(text)
        start = _skip(text, 0)
        self._root, end = _parse(text, start)
        if _skip(text, end) != len(text):
            raise ValueError(f"extra data at offset {_skip(text, end)}")

    @classmethod
    def of(cls, text: str) -> DocumentMap | None:
        """The map of ``text``, or None when it is not JSON."""
        try:
            return cls(text)
        except (ValueError, RecursionError):
            return None

    def span_of(self, start: int, end: int) -> Span:
        return self.lines.span(start, end)

    def resolve(self, path: Path) -> Location:
        """The location of ``path``: its deepest element present in the text, with that element's span."""
        node = self._root
        kept: list[PathElement] = []
        for kind, name in path:
            if kind == "index":
                if node.items is None:
                    if name == 0:
                        continue  # a single value read as a one-item list
                    break
                if not isinstance(name, int) or not 0 <= name < len(node.items):
                    break
                node = node.items[name]
            else:
                if node.members is None or not isinstance(name, str) or name not in node.members:
                    break
                key_node, value_node = node.members[name]
                node = key_node if kind == "key" else value_node
            kept.append((kind, name))
            if kind == "key":
                break
        return Location(tuple(kept), self.span_of(node.start, node.end))


def _skip(text: str, offset: int) -> int:
    match = _WHITESPACE.match(text, offset)
    return match.end() if match is not None else offset


def _parse(text: str, start: int) -> tuple[_Node, int]:
    """The node of the value at ``start`` (no leading whitespace) and the offset just after it."""
    if start >= len(text):
        raise ValueError("unexpected end of text")
    char = text[start]
    if char == "{":
        return _parse_object(text, start)
    if char == "[":
        return _parse_array(text, start)
    if char == '"':
        _, end = scanstring(text, start + 1)
        return _Node(start, end), end
    for literal in ("true", "false", "null"):
        if text.startswith(literal, start):
            return _Node(start, start + len(literal)), start + len(literal)
    number = _NUMBER.match(text, start)
    if number is None:
        raise ValueError(f"no JSON value at offset {start}")
    return _Node(start, number.end()), number.end()


def _parse_object(text: str, start: int) -> tuple[_Node, int]:
    members: dict[str, tuple[_Node, _Node]] = {}
    offset = _skip(text, start + 1)
    if text.startswith("}", offset):
        return _Node(start, offset + 1, members=members), offset + 1
    while True:
        if not text.startswith('"', offset):
            raise ValueError(f"expected a member name at offset {offset}")
        name, name_end = scanstring(text, offset + 1)
        key_node = _Node(offset, name_end)
        offset = _skip(text, name_end)
        if not text.startswith(":", offset):
            raise ValueError(f"expected `:` at offset {offset}")
        member, offset = _parse(text, _skip(text, offset + 1))
        # A name given twice keeps its first place: the parser refuses such documents and points at the first.
        members.setdefault(name, (key_node, member))
        offset = _skip(text, offset)
        if text.startswith("}", offset):
            return _Node(start, offset + 1, members=members), offset + 1
        if not text.startswith(",", offset):
            raise ValueError(f"expected `,` or `}}` at offset {offset}")
        offset = _skip(text, offset + 1)


def _parse_array(text: str, start: int) -> tuple[_Node, int]:
    items: list[_Node] = []
    offset = _skip(text, start + 1)
    if text.startswith("]", offset):
        return _Node(start, offset + 1, items=items), offset + 1
    while True:
        item, offset = _parse(text, offset)
        items.append(item)
        offset = _skip(text, offset)
        if text.startswith("]", offset):
            return _Node(start, offset + 1, items=items), offset + 1
        if not text.startswith(",", offset):
            raise ValueError(f"expected `,` or `]` at offset {offset}")
        offset = _skip(text, offset + 1)
