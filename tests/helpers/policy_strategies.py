"""Hypothesis strategies for policy sets and requests, shared by the property tests of the policy engine.

The vocabularies are small, so that statements often apply, conditions both hold and fail, and every
policy kind and principal kind takes part; ``PROPERTY_SETTINGS`` bounds the examples so the suite stays fast.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from kmsd.policy import PolicyKind, PrincipalInfo, RequestContext
from tests.policy.helpers import ACCOUNT, ALICE, CAROL, KEY_ARN, ROLE_ARN, ROOT, SESSION

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:*", "kms:Get*", "*", "kms:Re*", "s3:GetObject", "kms:encrypt"]


RESOURCES = [
    "*",
    KEY_ARN,
    f"arn:aws:kms:*:{ACCOUNT}:key/*",
    "arn:aws:kms:us-east-1:444455556666:key/*",
    "arn:aws:s3:::bucket/${aws:username}/*",
]


PRINCIPALS: list[Any] = [
    "*",
    {"AWS": ACCOUNT},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    {"AWS": ALICE.arn},
    {"AWS": ROLE_ARN},
    {"AWS": SESSION.arn},
    {"AWS": "444455556666"},
    {"AWS": [CAROL.arn, ALICE.arn]},
    {"Service": "kms.amazonaws.com"},
]


CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"test:a": ["x", "y"]}},
    {"StringNotLike": {"test:a": ["x*", "q"]}},
    {"StringEqualsIgnoreCase": {"test:a": "X"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"ForAnyValue:StringEquals": {"test:set": ["a", "b"]}},
    {"ForAllValues:StringLike": {"test:set": ["a*", "b"]}},
    {"NumericLessThan": {"test:n": ["5", "10"]}},
    {"Null": {"test:a": "true"}},
    {"BoolIfExists": {"test:b": "true"}},
    {"StringLike": {"test:a": "${aws:username}*"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:*"}},
]


SERVICE = PrincipalInfo("kms.amazonaws.com", "", "service")


CALLERS = [ALICE, SESSION, ROOT, CAROL, SERVICE]


KINDS = list(PolicyKind)


def sample_list(options: list[Any]) -> st.SearchStrategy[Any]:
    one = st.sampled_from(options)
    return one | st.lists(one, min_size=1, max_size=3, unique_by=json.dumps)


@st.composite
def statements(draw: st.DrawFn, kind: PolicyKind, sid: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    statement["NotAction" if draw(st.integers(0, 5)) == 0 else "Action"] = draw(sample_list(ACTIONS))
    statement["NotResource" if draw(st.integers(0, 5)) == 0 else "Resource"] = draw(sample_list(RESOURCES))
    if kind is PolicyKind.RESOURCE:
        negated = statement["Effect"] == "Deny" and draw(st.integers(0, 4)) == 0
        statement["NotPrincipal" if negated else "Principal"] = draw(
            st.sampled_from(PRINCIPALS[1:] if negated else PRINCIPALS)
        )
    blocks = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2, unique_by=json.dumps))
    condition: dict[str, Any] = {}
    for block in blocks:
        for operator, pairs in block.items():
            condition.setdefault(operator, {}).update(pairs)
    if condition:
        statement["Condition"] = condition
    return statement


@st.composite
def policy_sets(draw: st.DrawFn) -> list[tuple[PolicyKind, dict[str, Any]]]:
    count = draw(st.integers(1, 4))
    chosen: list[tuple[PolicyKind, dict[str, Any]]] = []
    for number in range(count):
        kind = draw(st.sampled_from(KINDS))
        size = draw(st.integers(1, 4))
        body = [draw(statements(kind, f"P{number}S{index}")) for index in range(size)]
        chosen.append((kind, {"Version": "2012-10-17", "Statement": body}))
    return chosen


@st.composite
def contexts(draw: st.DrawFn) -> RequestContext:
    keys: dict[str, Any] = {}
    for name, options in (
        ("test:a", ["x", "y", "z", "alice-1", ""]),
        ("aws:SourceIp", ["10.1.1.1", "192.168.1.1", "8.8.8.8", "2001:db8::1"]),
        ("test:n", ["3", "7", "12", "x"]),
        ("test:b", ["true", "false"]),
        ("aws:username", ["alice"]),
        ("aws:PrincipalArn", [ALICE.arn, ROLE_ARN]),
    ):
        if draw(st.booleans()):
            keys[name] = draw(st.sampled_from(options))
    if draw(st.booleans()):
        keys["test:set"] = draw(st.lists(st.sampled_from(["a", "b", "c", "ab"]), max_size=3))
    return RequestContext(
        action=draw(st.sampled_from(["kms:Encrypt", "kms:Decrypt", "kms:GetKeyPolicy", "s3:GetObject"])),
        resource=draw(
            st.sampled_from([KEY_ARN, "arn:aws:kms:us-east-1:444455556666:key/k", "*", "arn:aws:s3:::bucket/alice/f"])
        ),
        principal=draw(st.sampled_from(CALLERS)),
        keys=keys,
    )
