"""The regular expressions of AWS's service models, compiled with the meaning AWS's Java servers give them.

botocore's models carry each member's ``pattern`` exactly as AWS's Java
(Smithy/Coral) validators apply it with ``java.util.regex``.  Two differences
from Python's ``re`` matter for the patterns IAM, STS and KMS use:

- ``\\w``, ``\\d`` and ``\\s`` are ASCII-only in Java unless the pattern asks
  for Unicode classes, so an IAM user name ``[\\w+=,.@-]+`` refuses ``é``;
  Python's ``str`` patterns would accept it.  We compile with ``re.ASCII``.
- ``\\p{L}``, ``\\p{Z}``, ``\\p{N}`` (Unicode general categories, used by every
  tag key and value pattern) do not exist in ``re``; we expand them into the
  code-point ranges of those categories from :mod:`unicodedata`.

Anything else Java-only makes :func:`compile_java_pattern` raise
``ValueError``, so a refreshed model with a new construct fails a test instead
of validating differently from AWS.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

# Java constructs with no faithful ``re`` spelling (class intersection, possessive and
# atomic groups, \p outside the general categories); none occur in today's models.
_UNSUPPORTED = re.compile(r"&&|(?<!\\)[*+?]\+|\{\d+(?:,\d*)?\}\+|\(\?>|\\[pP](?!\{[A-Z][a-z]?\})")
_CATEGORY = re.compile(r"\\([pP])\{([A-Z][a-z]?)\}")


@cache
def _code_points_by_category() -> dict[str, list[tuple[int, int]]]:
    """Every two-letter general category's code points as inclusive runs, from one pass over Unicode."""
    runs: dict[str, list[tuple[int, int]]] = {}
    current, start = "", 0
    for code_point in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code_point))
        if category != current:
            if current:
                runs.setdefault(current, []).append((start, code_point - 1))
            current, start = category, code_point
    runs.setdefault(current, []).append((start, sys.maxunicode))
    return runs


@cache
def category_ranges(category: str) -> str:
    """``re`` class body (no brackets) matching Unicode general category ``category`` (``L``, ``Lu``, ...)."""
    runs = sorted(
        run for name, members in _code_points_by_category().items() if name.startswith(category) for run in members
    )
    if not runs:
        raise ValueError(f"unknown Unicode general category `{category}`")
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return "".join(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}" for start, end in merged)


def translate(pattern: str) -> str:
    """``pattern`` (Java syntax) rewritten for Python's ``re``; raises ValueError for Java-only constructs."""
    if _UNSUPPORTED.search(pattern):
        raise ValueError(f"unsupported Java regular expression construct in `{pattern}`")
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            match = _CATEGORY.match(pattern, index)
            if match is None:
                out.append(pattern[index : index + 2])
                index += 2
                continue
            negated, ranges = match.group(1) == "P", category_ranges(match.group(2))
            if in_class and negated:
                raise ValueError(f"negated category inside a class is not supported: `{pattern}`")
            if in_class:
                out.append(ranges)
            else:
                out.append(("[^" if negated else "[") + ranges + "]")
            index = match.end()
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            # A leading "]" or "^]" is a literal in both dialects; copy it so it does not close the class.
            for literal in ("^]", "]", "^"):
                if pattern.startswith(literal, index + 1):
                    out.append(literal)
                    index += len(literal)
                    break
        elif char == "[" and in_class:
            # Java reads a nested class as a union; re would read a literal "[".
            raise ValueError(f"nested character classes are not supported: `{pattern}`")
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out)


def compile_java_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern; callers match with ``fullmatch``, as Java's ``Matcher.matches()`` does."""
    return re.compile(translate(pattern), re.ASCII)
