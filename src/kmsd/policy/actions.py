"""Action patterns: ``service:Operation`` matched case-insensitively with ``*`` and ``?``.

IAM User Guide, "IAM JSON policy elements: Action": action names are not
case-sensitive (``kms:encrypt`` is ``kms:Encrypt``), and wildcards are
matched at evaluation time, so ``kms:Get*`` also covers operations added
later.  Subjects are passed already lower-cased.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmsd.policy.wildcard import Matcher, compile_tokens, tokens_from_text


def compile_actions(patterns: Sequence[str]) -> tuple[Matcher, ...]:
    return tuple(compile_tokens(tokens_from_text(pattern.lower())) for pattern in patterns)


def any_action_matches(matchers: Sequence[Matcher], folded_action: str) -> bool:
    return any(matcher(folded_action) for matcher in matchers)
