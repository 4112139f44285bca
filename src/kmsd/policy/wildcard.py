"""Compiled ``*``/``?`` wildcard patterns, the matching primitive behind actions, ARNs and StringLike.

IAM's wildcards are only ``*`` (any run of characters, possibly empty) and
``?`` (exactly one character); every other character is literal, including
``[`` and ``]``, which is why :mod:`fnmatch` is wrong here.  A pattern is a
sequence of literal text and :data:`STAR`/:data:`QUESTION` tokens, so a
literal ``*`` produced by the ``${*}`` escape or by a policy variable's value
never acts as a wildcard.  Compilation picks the cheapest test (equality,
prefix, suffix, always-true) and falls back to one regular expression built
once per pattern.
"""

from __future__ import annotations

import enum
import re
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
    regex = "".join(".*" if token is STAR else "." if token is QUESTION else re.escape(str(token)) for token in merged)
    fullmatch = re.compile(regex, re.DOTALL).fullmatch
    return lambda subject: fullmatch(subject) is not None


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
