"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/x}``, any request key, defaults and escapes.

IAM User Guide, "IAM policy elements: Variables and tags": a variable is
``${key}`` or ``${key, 'default'}``; ``${*}``, ``${?}`` and ``${$}`` stand
for a literal ``*``, ``?`` and ``$``; variables exist only from policy
language version ``2012-10-17`` (under ``2008-10-17`` the text is literal);
a key that is absent from the request makes the comparison fail unless a
default is given; multivalued keys cannot be used as variables.  A
:class:`Template` is parsed once and resolved per request into wildcard
tokens, so a substituted value is always literal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmsd.policy.context import RequestContext
from kmsd.policy.wildcard import Token, tokens_from_text

_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_KEY_WITH_DEFAULT = re.compile(r"\s*([^\s,'{}]+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Variable:
    key: str  # lower-cased: context keys are case-insensitive
    default: str | None = None


Part = Token | Variable


@dataclass(frozen=True)
class Template:
    """A policy string split into literal text, wildcard tokens and variables."""

    parts: tuple[Part, ...]

    @property
    def has_variables(self) -> bool:
        return any(isinstance(part, Variable) for part in self.parts)

    @property
    def variable_keys(self) -> frozenset[str]:
        return frozenset(part.key for part in self.parts if isinstance(part, Variable))

    def constant_tokens(self) -> tuple[Token, ...]:
        """The tokens of a template without variables."""
        return tuple(part for part in self.parts if not isinstance(part, Variable))

    def resolve(self, context: RequestContext) -> tuple[Token, ...] | None:
        """The tokens with each variable replaced by its literal value; ``None`` if one cannot be resolved."""
        tokens: list[Token] = []
        for part in self.parts:
            if not isinstance(part, Variable):
                tokens.append(part)
                continue
            value = variable_value(context, part.key)
            if value is None:
                value = part.default
            if value is None:
                return None
            tokens.append(value)
        return tuple(tokens)


def parse_template(text: str, *, variables: bool, wildcards: bool) -> Template:
    """Parse ``text``; ``variables`` enables ``${...}``, ``wildcards`` makes ``*``/``?`` wildcard tokens."""
    if not variables:
        return Template(_literal_parts(text, wildcards))
    parts: list[Part] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        parts.extend(_literal_parts(text[position : found.start()], wildcards))
        position = found.end()
        inner = found.group(1)
        if inner in _ESCAPES:
            parts.append(_ESCAPES[inner])
            continue
        key = _KEY_WITH_DEFAULT.fullmatch(inner)
        if key is None:
            # Not a variable in IAM's grammar, so it is ordinary text.
            parts.extend(_literal_parts(found.group(0), wildcards))
            continue
        parts.append(Variable(key.group(1).lower(), key.group(2)))
    parts.extend(_literal_parts(text[position:], wildcards))
    return Template(tuple(parts))


def _literal_parts(text: str, wildcards: bool) -> tuple[Token, ...]:
    if not text:
        return ()
    if wildcards:
        return tokens_from_text(text)
    return (text,)


def variable_value(context: RequestContext, key: str) -> str | None:
    """The value a variable on ``key`` (lower-cased) takes, or ``None``: absent, or multivalued."""
    name = context.spellings.get(key)
    if name is None:
        return None
    found = context.keys[name]
    return found if isinstance(found, str) else None
