"""ARN patterns matched segment by segment: ``arn:partition:service:region:account:resource``.

IAM User Guide, "IAM JSON policy elements: Resource" and the ARN condition
operators: each of the six colon-delimited components is matched separately,
case-sensitively, with ``*`` and ``?``; a wildcard never crosses the ``:``
between the first five components, while in the resource component (which may
itself contain ``:`` and ``/``) ``*`` spans anything.  A pattern with fewer
than six components is matched as if the missing ones were ``*`` (IAM's
legacy parser accepts ``arn:aws:sns:*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from kmsd.policy.wildcard import STAR, Matcher, Token, compile_tokens, has_wildcard

ARN_SEGMENTS = 6

SubjectArn = tuple[str, str, str, str, str, str]


def split_arn(subject: str) -> SubjectArn | None:
    """The six components of an ARN, or ``None`` for anything that is not one."""
    parts = subject.split(":", ARN_SEGMENTS - 1)
    if len(parts) != ARN_SEGMENTS or parts[0] != "arn":
        return None
    return (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])


def split_tokens(tokens: Sequence[Token]) -> tuple[tuple[Token, ...], ...]:
    """Cut a pattern's tokens at its first five colons into six components, padding with ``*``."""
    segments: list[list[Token]] = [[]]
    for token in tokens:
        if not isinstance(token, str) or len(segments) == ARN_SEGMENTS:
            segments[-1].append(token)
            continue
        pieces = token.split(":", ARN_SEGMENTS - len(segments))
        for index, piece in enumerate(pieces):
            if index:
                segments.append([])
            if piece:
                segments[-1].append(piece)
    while len(segments) < ARN_SEGMENTS:
        segments.append([STAR])
    return tuple(tuple(segment) for segment in segments)


def _text(segments: Sequence[tuple[Token, ...]]) -> str:
    return ":".join("".join(str(token) for token in segment) for segment in segments)


class ArnMatcher:
    """A compiled ARN pattern: plain equality when nothing is wild, else one matcher per component.

    A pattern whose wildcards are all in its resource component
    (``arn:aws:kms:us-east-1:111122223333:key/*``) tests its first five
    components as one prefix: they hold no colon, so a subject starts with
    them exactly when its own first five components equal them.
    """

    __slots__ = ("_exact", "_matchers", "_prefix", "_resource")

    def __init__(self, segments: tuple[tuple[Token, ...], ...]) -> None:
        self._exact: str | None = None
        self._prefix: str | None = None
        self._matchers: tuple[Matcher, ...] = ()
        if not any(has_wildcard(segment) for segment in segments):
            self._exact = _text(segments)
            return
        self._matchers = tuple(compile_tokens(segment) for segment in segments)
        self._resource = self._matchers[-1]
        head = segments[: ARN_SEGMENTS - 1]
        if head[0] == ("arn",) and not any(has_wildcard(segment) for segment in head):
            self._prefix = _text(head) + ":"

    def matches(self, subject: str, parts: SubjectArn | None) -> bool:
        if self._exact is not None:
            return subject == self._exact
        prefix = self._prefix
        if prefix is not None:
            return subject.startswith(prefix) and self._resource(subject[len(prefix) :])
        if parts is None:
            return False
        # A plain loop: this runs per statement per request, and all() over a generator costs more.
        for matcher, part in zip(self._matchers, parts, strict=True):  # noqa: SIM110
            if not matcher(part):
                return False
        return True


@lru_cache(maxsize=4096)
def arn_matcher(tokens: tuple[Token, ...]) -> ArnMatcher:
    """The compiled matcher for a pattern's tokens (cached: resolved variables repeat across requests)."""
    return ArnMatcher(split_tokens(tokens))
