"""Wildcard matching without backtracking: the same answers as a reference matcher, in bounded work.

Issue 9, item 2: ``*``/``?`` patterns used to compile to a backtracking
regular expression, so ``*a*a*a*a*a*a*a*a*b`` against a run of ``a`` took
time exponential in the stars.  These tests check the glob matcher against a
plain dynamic-programming matcher (exhaustively on short strings, and on
random ones with hypothesis), count the string operations it performs on
adversarial inputs, and run those inputs in a child process with a generous
deadline, so a regression to backtracking fails instead of hanging the suite.
None asserts on elapsed time.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmsd.policy import PolicyKind, RequestContext, evaluate, parse_policy
from kmsd.policy.arn import arn_matcher
from kmsd.policy.wildcard import compile_tokens, tokens_from_text
from tests.policy.helpers import ALICE, KEY_ARN, allow, document


def reference(pattern: str, subject: str) -> bool:
    """IAM's wildcard semantics by dynamic programming over (pattern prefix, subject prefix): no shortcuts."""
    rows = len(pattern) + 1
    cols = len(subject) + 1
    table = [[False] * cols for _ in range(rows)]
    table[0][0] = True
    for i in range(1, rows):
        char = pattern[i - 1]
        table[i][0] = table[i - 1][0] and char == "*"
        for j in range(1, cols):
            if char == "*":
                table[i][j] = table[i - 1][j] or table[i][j - 1]
            elif char == "?":
                table[i][j] = table[i - 1][j - 1]
            else:
                table[i][j] = table[i - 1][j - 1] and subject[j - 1] == char
    return table[-1][-1]


def matches(pattern: str, subject: str) -> bool:
    return compile_tokens(tokens_from_text(pattern))(subject)


def test_every_short_pattern_agrees_with_the_reference() -> None:
    # Every pattern up to 5 characters over {a, b, *, ?} against every subject up to 5 characters over {a, b}:
    # each fast path (equality, prefix, suffix, substring, always) and the glob matcher, on every edge.
    subjects = ["".join(chars) for size in range(6) for chars in itertools.product("ab", repeat=size)]
    checked = 0
    for size in range(6):
        for chars in itertools.product("ab*?", repeat=size):
            pattern = "".join(chars)
            matcher = compile_tokens(tokens_from_text(pattern))
            for subject in subjects:
                assert matcher(subject) is reference(pattern, subject), (pattern, subject)
                checked += 1
    assert checked == 1365 * 63


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="ab/*?", max_size=14),
    st.text(alphabet="ab/", max_size=40),
)
def test_random_patterns_agree_with_the_reference(pattern: str, subject: str) -> None:
    assert matches(pattern, subject) is reference(pattern, subject)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="aB?*", max_size=10), st.text(alphabet="abAB", max_size=20))
def test_ignore_case_folds_only_the_pattern(pattern: str, subject: str) -> None:
    # The ignore_case contract: the caller lower-cases the subject, the pattern's literals are folded once.
    folded = compile_tokens(tokens_from_text(pattern), ignore_case=True)
    assert folded(subject.lower()) is reference(pattern.lower(), subject.lower())


def test_long_question_mark_chunks_agree_with_the_reference() -> None:
    # Chunks with many `?` take the bit-parallel search once a range is long: check it against the reference.
    cases = [
        ("*" + "a?" * 30 + "b*", "a" * 3000 + "b"),
        ("*" + "a?" * 30 + "b*", "a" * 3000 + "ab"),
        ("*" + "a?" * 30 + "b*", "a" * 3000),
        ("*a?b?c*" * 3, "xaybzc" * 700),
        ("*a?b?c*" * 3 + "d", "xaybzc" * 700),
        ("x*" + "?a?" * 40 + "*y", "x" + "ba" * 3000 + "y"),
        ("*" + "é?ü" * 20 + "*", "éxü" * 2000),
        # Found, and not found, past the first window: the search over the whole value's masks.
        ("*" + "a?" * 30 + "b*", "a" * 9000 + "b" + "a" * 50),
        ("*" + "a?" * 30 + "b*c", "a" * 9000 + "b" + "a" * 50 + "c"),
        ("*" + "a?" * 30 + "b*", "ab" * 4500),
    ]
    for pattern, subject in cases:
        assert matches(pattern, subject) is reference(pattern, subject), pattern[:20]


class CountingStr(str):
    """A subject that counts the characters the matcher asks ``find``/``startswith``/``in`` to look at."""

    work = 0

    def find(self, sub: Any, start: Any = None, end: Any = None) -> int:
        found = str.find(self, sub, start, end)
        first = 0 if start is None else start
        last = len(self) if end is None else end
        # A search looks at the characters up to the end of what it finds, each against the needle at worst.
        scanned = last - first if found < 0 else found + len(sub) - first
        CountingStr.work += max(0, scanned) * max(1, len(sub))
        return found

    def startswith(self, prefix: Any, start: Any = None, end: Any = None) -> bool:
        CountingStr.work += len(prefix)
        return str.startswith(self, prefix, start, end)

    def __getitem__(self, key: Any) -> str:
        part = str.__getitem__(self, key)
        CountingStr.work += len(part)
        return part


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        ("*a*a*a*a*a*a*a*a*b", "a" * 2000),
        ("arn:aws:s3:::*/*/*/*.json", "arn:aws:s3:::" + "/" * 2000 + "x"),
        ("*" + "*".join(["a"] * 20) + "*b", "a" * 4096),
        ("*" + "a?" * 200 + "b*", "a" * 4000),
        ("*" + "*".join(["a?a?b"] * 50) + "*", ("a" * 99 + "b") * 40),
    ],
    ids=["stars", "s3-json", "twenty-stars", "question-chunk", "many-chunks"],
)
def test_work_is_bounded_by_pattern_times_value(pattern: str, subject: str) -> None:
    # The characters looked at never exceed (pattern + 1) x (value + 1): linear in their product.
    matcher = compile_tokens(tokens_from_text(pattern))
    CountingStr.work = 0
    result = matcher(CountingStr(subject))
    assert result is reference(pattern, subject) if len(subject) < 600 else result is matches(pattern, subject)
    assert CountingStr.work <= (len(pattern) + 1) * (len(subject) + 1)


ADVERSARIAL = textwrap.dedent(
    """
    from kmsd.policy import PolicyKind, PrincipalInfo, RequestContext, evaluate, parse_policy
    from kmsd.policy.arn import arn_matcher
    from kmsd.policy.wildcard import compile_tokens, tokens_from_text

    results = []
    results.append(compile_tokens(tokens_from_text("*a*a*a*a*a*a*a*a*b"))("a" * 3000))
    results.append(compile_tokens(tokens_from_text("*a*a*a*a*a*a*a*a*a"))("a" * 3000))
    s3 = arn_matcher(tokens_from_text("arn:aws:s3:::*/*/*/*.json"))
    subject = "arn:aws:s3:::" + "/" * 3000 + "x"
    results.append(s3.matches(subject, tuple(subject.split(":", 5))))
    alice = PrincipalInfo("arn:aws:iam::111122223333:user/alice", "111122223333", "user")
    policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:Encrypt",
                    "Resource": "*",
                    "Condition": {"StringLike": {"kms:EncryptionContext:t": "*a*a*a*a*a*a*a*a*a*a*b"}},
                }
            ],
        },
        PolicyKind.IDENTITY,
        "user",
    )
    context = RequestContext("kms:Encrypt", "*", alice, {"kms:EncryptionContext:t": "a" * 3000})
    results.append(evaluate(context, [policy]).allowed)
    print(results)
    """
)


def test_adversarial_patterns_finish_in_a_child_process() -> None:
    # A backtracking matcher needs on the order of 3000^8 steps here; run it where a deadline can stop it.
    done = subprocess.run([sys.executable, "-c", ADVERSARIAL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[False, True, False, False]"


def test_string_like_in_a_policy_uses_the_same_matcher() -> None:
    policy = parse_policy(
        document(allow(Condition={"StringLike": {"kms:EncryptionContext:t": "*a?c*x"}})), PolicyKind.IDENTITY, "u"
    )
    for value, expected in [("zzabcqqx", True), ("abx", False), ("a?cx", True), ("ac x", False)]:
        context = RequestContext("kms:Encrypt", KEY_ARN, ALICE, {"kms:EncryptionContext:t": value})
        assert evaluate(context, [policy]).allowed is expected, value


def test_arn_resource_wildcards_span_slashes_but_not_leading_colons() -> None:
    matcher = arn_matcher(tokens_from_text("arn:aws:s3:::*/*/*/*.json"))
    subject = "arn:aws:s3:::bucket/a/b/c/file.json"
    assert matcher.matches(subject, tuple(subject.split(":", 5)))  # type: ignore[arg-type]
    subject = "arn:aws:s3:::bucket/a/b.json"
    assert not matcher.matches(subject, tuple(subject.split(":", 5)))  # type: ignore[arg-type]
