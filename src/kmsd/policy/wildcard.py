"""Compiled ``*``/``?`` wildcard patterns, the matching primitive behind actions, ARNs and StringLike.

IAM's wildcards are only ``*`` (any run of characters, possibly empty) and
``?`` (exactly one character); every other character is literal, including
``[`` and ``]``, which is why :mod:`fnmatch` is wrong here.  A pattern is a
sequence of literal text and :data:`STAR`/:data:`QUESTION` tokens, so a
literal ``*`` produced by the ``${*}`` escape or by a policy variable's value
never acts as a wildcard.  Compilation picks the cheapest test (equality,
prefix, suffix, substring, always-true) and otherwise builds a glob matcher.

The glob matcher never backtracks past a star, so its work is linear in the
pattern times the value, whatever either holds: policies and request values
both come from callers, and a backtracking regular expression lets one
pattern like ``*a*a*a*a*a*a*a*b`` burn seconds of the server's time (issue
9, item 2).  The pattern between its stars is a list of *chunks* (literal
text and ``?``, each of a fixed length).  The first chunk must sit at the
start of the value and the last at its end; each chunk in between is placed
at its leftmost occurrence after the one before.  Leftmost placement is
always safe: any match that puts a chunk further right can move it left
without disturbing the chunks after it, so if leftmost placement fails no
placement succeeds.  Each search starts where the previous chunk ended, so
the value is scanned once per chunk at most: O(pattern × value) in the worst
case, and one ``str.find`` per chunk in the usual one.  A chunk holding
``?`` is found from its longest literal piece, each candidate checked piece
by piece, or, when that would take many checks, by a bit-parallel search
whose machine work is the chunk's letters times the value's length divided by
the word size (:func:`_parallel_find`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import methodcaller


class Wild(enum.Enum):
    STAR = "*"
    QUESTION = "?"


STAR = Wild.STAR
QUESTION = Wild.QUESTION

Token = str | Wild
Matcher = Callable[[str], bool]


def tokens_from_text(text: str) -> tuple[Token, ...]:
    """Split plain policy text into literal runs and wildcard tokens."""
    tokens: list[Token] = []
    literal: list[str] = []
    for char in text:
        if char == "*" or char == "?":
            if literal:
                tokens.append("".join(literal))
                literal.clear()
            tokens.append(STAR if char == "*" else QUESTION)
        else:
            literal.append(char)
    if literal:
        tokens.append("".join(literal))
    return tuple(tokens)


def _always(_: str) -> bool:
    return True


def compile_tokens(tokens: Sequence[Token], *, ignore_case: bool = False) -> Matcher:
    """A predicate telling whether a whole string matches the pattern.

    With ``ignore_case`` the caller must pass the subject already lower-cased;
    the pattern's literals are folded here, once.
    """
    return _compile(tuple(tokens), ignore_case)


@lru_cache(maxsize=4096)
def _compile(tokens: tuple[Token, ...], ignore_case: bool) -> Matcher:
    if ignore_case:
        tokens = tuple(token.lower() if isinstance(token, str) else token for token in tokens)
    merged = _merge_literals(tokens)
    if not merged:
        return "".__eq__
    if all(isinstance(token, str) for token in merged):
        return str(merged[0]).__eq__
    if all(token is STAR for token in merged):
        return _always
    if len(merged) == 2 and merged[1] is STAR and isinstance(merged[0], str):
        return methodcaller("startswith", merged[0])
    if len(merged) == 2 and merged[0] is STAR and isinstance(merged[1], str):
        return methodcaller("endswith", merged[1])
    if len(merged) == 3 and merged[0] is STAR and merged[2] is STAR and isinstance(merged[1], str):
        return _contains(merged[1])
    return _glob(merged)


def _contains(literal: str) -> Matcher:
    def contains(subject: str) -> bool:
        return literal in subject

    return contains


class Chunk:
    """A run of literal text and ``?`` between two stars: a fixed ``length`` and its literal ``pieces``.

    ``pieces`` are ``(offset, text)`` pairs: the chunk matches at ``index``
    when each text appears at ``index + offset`` (the ``?`` between them
    match any one character).
    """

    __slots__ = ("_anchor", "_letters", "_rest", "length", "pieces")

    def __init__(self, tokens: Sequence[Token]) -> None:
        pieces: list[tuple[int, str]] = []
        offset = 0
        for token in tokens:
            if isinstance(token, str):
                pieces.append((offset, token))
                offset += len(token)
            else:
                offset += 1
        self.length = offset
        self.pieces = tuple(pieces)
        # Candidates come from the longest piece: the rarer it is in a value, the fewer positions to check.
        self._anchor = max(pieces, key=lambda piece: len(piece[1])) if pieces else (0, "")
        self._rest = tuple(piece for piece in pieces if piece is not self._anchor)
        # Every literal character with its offset, for the bit-parallel search.
        self._letters = tuple((offset + index, char) for offset, text in pieces for index, char in enumerate(text))

    def at(self, subject: str, index: int) -> bool:
        """Whether the chunk matches at ``index`` (the caller has checked that it fits)."""
        for offset, text in self.pieces:  # noqa: SIM110 - a plain loop: this is the matcher's inner loop
            if not subject.startswith(text, index + offset):
                return False
        return True

    def find(self, subject: str, start: int, end: int) -> int:
        """The leftmost index in ``[start, end - length]`` where the chunk matches, or -1."""
        last = end - self.length
        if last < start:
            return -1
        if not self._rest:
            if not self.pieces:
                return start  # only `?`: any position that leaves room fits
            offset, text = self._anchor
            found = subject.find(text, start + offset, last + offset + len(text))
            return found - offset if found >= 0 else -1
        if (last - start) * len(self._rest) > _SCAN_LIMIT:
            return _parallel_find(self._letters, subject, start, last)
        return self._scan(subject, start, last)

    def _scan(self, subject: str, start: int, last: int) -> int:
        """Candidates from a ``str.find`` of the anchor piece, each checked piece by piece (short ranges)."""
        offset, text = self._anchor
        stop = last + offset + len(text)
        position = subject.find(text, start + offset, stop)
        while position >= 0:
            index = position - offset
            for other_offset, other_text in self._rest:
                if not subject.startswith(other_text, index + other_offset):
                    break
            else:
                return index
            position = subject.find(text, position + 1, stop)
        return -1


# Above this many piece checks, a chunk holding `?` is searched bit-parallel: Python-level checks per candidate
# would cost (positions x pieces) interpreter steps, the bitmasks (letters x positions / word size) machine steps.
_SCAN_LIMIT = 64


def _parallel_find(letters: tuple[tuple[int, str], ...], subject: str, start: int, last: int) -> int:
    """The leftmost index in ``[start, last]`` where every ``(offset, char)`` of ``letters`` holds, or -1.

    Bit ``i`` of a character's mask says that the text holds that
    character at ``i``; the chunk matches at ``i`` when, for every letter,
    bit ``i + offset`` of its character's mask is set.  So the candidates
    are the AND of each letter's mask shifted right by its offset: one
    big-integer operation per letter, over a whole range at once.  A first,
    small window catches a chunk that sits near ``start`` (the usual case
    for the middle chunks of a pattern that matches); the rest of the range
    is searched with masks of the whole value, which are built once per
    value and character and shared by every chunk and pattern matched
    against it, so a policy of many patterns pays for each character's
    mask once.
    """
    if len(subject) > _FIRST_WINDOW:
        # A long value: operations on its whole masks cost in proportion to its length, so try a window first.
        reach = max(offset for offset, _ in letters) + 1
        stop = min(last, start + max(_FIRST_WINDOW, 4 * reach) - 1)
        found = _candidates(letters, _CharMasks(subject[start : stop + reach]), stop - start + 1)
        if found >= 0:
            return start + found
        if stop == last:
            return -1
        start = stop + 1
    found = _candidates(letters, _masks_of(subject), last + 1, skip=start)
    return start + found if found >= 0 else -1


def _candidates(letters: tuple[tuple[int, str], ...], masks: _CharMasks, positions: int, skip: int = 0) -> int:
    """The first position in ``[skip, positions)`` of ``masks``' text where the chunk matches, less ``skip``."""
    candidates = ((1 << positions) - 1) >> skip << skip
    for offset, char in letters:
        candidates &= masks.of(char) >> offset
        if not candidates:
            return -1
    return (candidates & -candidates).bit_length() - 1 - skip


# Start positions in the first window of a bit-parallel search in a long value.
_FIRST_WINDOW = 4096

# Whole-value masks for the last values searched bit-parallel (one request's values, typically).
_VALUE_MASKS_LIMIT = 16
_value_masks: dict[str, _CharMasks] = {}


def _masks_of(subject: str) -> _CharMasks:
    found = _value_masks.get(subject)
    if found is None:
        if len(_value_masks) >= _VALUE_MASKS_LIMIT:
            _value_masks.clear()
        found = _value_masks[subject] = _CharMasks(subject)
    return found


class _CharMasks:
    """Per character, the positions in ``text`` that hold it, as the bits of an integer (built on demand)."""

    __slots__ = ("_masks", "_text", "_zeros")

    def __init__(self, text: str) -> None:
        self._text = text
        self._zeros: dict[int, str] | None = None
        self._masks: dict[str, int] = {}

    def of(self, char: str) -> int:
        found = self._masks.get(char)
        if found is not None:
            return found
        if char not in self._text:
            found = 0
        else:
            if self._zeros is None:
                # A translation table sending every character of the text to "0"; the wanted one goes to "1".
                self._zeros = dict.fromkeys(map(ord, set(self._text)), "0")
            table = dict(self._zeros)
            table[ord(char)] = "1"
            # Reversed, so that bit i of the integer is position i of the text.
            found = int(self._text.translate(table)[::-1], 2)
        self._masks[char] = found
        return found


def split_chunks(tokens: Sequence[Token]) -> tuple[Chunk, ...]:
    """The chunks between a pattern's stars, empty chunks included (a leading or trailing star leaves one)."""
    chunks: list[Chunk] = []
    current: list[Token] = []
    for token in tokens:
        if token is STAR:
            chunks.append(Chunk(current))
            current = []
        else:
            current.append(token)
    chunks.append(Chunk(current))
    return tuple(chunks)


def _glob(tokens: tuple[Token, ...]) -> Matcher:
    chunks = split_chunks(tokens)
    if len(chunks) == 1:
        # No star: literal text and `?` only, so the value has the chunk's length and the chunk sits at 0.
        (only,) = chunks

        def fixed(subject: str) -> bool:
            return len(subject) == only.length and only.at(subject, 0)

        return fixed
    head = chunks[0]
    tail = chunks[-1]
    middle = chunks[1:-1]
    minimum = sum(chunk.length for chunk in chunks)

    def glob(subject: str) -> bool:
        size = len(subject)
        if size < minimum:
            return False
        end = size - tail.length
        if not head.at(subject, 0) or not tail.at(subject, end):
            return False
        position = head.length
        for chunk in middle:
            found = chunk.find(subject, position, end)
            if found < 0:
                return False
            position = found + chunk.length
        return True

    return glob


def _merge_literals(tokens: tuple[Token, ...]) -> tuple[Token, ...]:
    merged: list[Token] = []
    for token in tokens:
        if isinstance(token, str):
            if not token:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + token
                continue
        elif token is STAR and merged and merged[-1] is STAR:
            continue
        merged.append(token)
    return tuple(merged)


def has_wildcard(tokens: Sequence[Token]) -> bool:
    return any(isinstance(token, Wild) for token in tokens)
