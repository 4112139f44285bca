"""An atheris (libFuzzer) harness for the policy parser: any exception but PolicyValidationError is a crash.

Run it directly for as long as you like::

    .venv/bin/python tests/policy/fuzz_parser.py -max_total_time=600 CORPUS_DIR

or through the soak suite (``pytest -m soak tests/policy``), which runs it for a bounded number of inputs.
The first byte of an input picks the policy kind; the rest is read three ways: as raw bytes, as text, and
(when it is JSON) as one statement spliced into a valid key policy, so the fuzzer reaches the element
checks and the compiler, not only the JSON decoder.  A parsed policy is also evaluated and traced once,
so a document that parses but cannot be evaluated is found too.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import atheris  # type: ignore[import-untyped]  # atheris ships no type information

with atheris.instrument_imports():
    from kmsd.policy import (
        PolicyKind,
        PolicyValidationError,
        PrincipalInfo,
        RequestContext,
        evaluate,
        parse_policy,
    )

KINDS = list(PolicyKind)
SEED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Base", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}
    ],
}
CONTEXT = RequestContext(
    "kms:Encrypt",
    "arn:aws:kms:us-east-1:111122223333:key/k",
    PrincipalInfo("arn:aws:iam::111122223333:user/alice", "111122223333", "user"),
    {"aws:SourceIp": "10.0.0.1", "aws:username": "alice", "kms:EncryptionContextKeys": ["a", "b"]},
)


def check(document: Any, kind: PolicyKind) -> None:
    try:
        policy = parse_policy(document, kind)
    except PolicyValidationError:
        return
    decision = evaluate(CONTEXT, [policy])
    # Everything a decision works out on demand: computing it is the point.
    decision.trace  # noqa: B018
    decision.statements  # noqa: B018
    decision.resource_via  # noqa: B018


def test_one_input(data: bytes) -> None:
    if not data:
        return
    # The first byte picks the policy kind and the rest is the document, so seed files stay readable JSON.
    kind = KINDS[data[0] % len(KINDS)]
    rest = data[1:]
    check(rest, kind)
    text = rest.decode("utf-8", "replace")
    check(text, kind)
    try:
        fragment = json.loads(text)
    except (ValueError, RecursionError):
        return
    spliced = json.loads(json.dumps(SEED))
    spliced["Statement"].append(fragment)
    check(spliced, kind)


def main(argv: list[str]) -> None:
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
