"""Properties over generated policies and requests: deny monotonicity, order independence, round trips, fuzzing.

Examples are bounded (small vocabularies, a few hundred cases) so the suite stays fast; the vocabularies are
chosen so that statements often apply, conditions both hold and fail, and every policy kind and principal
kind takes part.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmsd.policy import (
    Decision,
    Outcome,
    PolicyKind,
    PolicyValidationError,
    PrincipalInfo,
    RequestContext,
    evaluate,
    parse_policy,
)
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


def decide(policy_set: list[tuple[PolicyKind, dict[str, Any]]], context: RequestContext) -> Decision:
    policies = [parse_policy(doc, kind, f"p{index}") for index, (kind, doc) in enumerate(policy_set)]
    return evaluate(context, policies)


def signature(decision: Decision) -> tuple[Outcome, tuple[str, ...], PolicyKind | None]:
    return decision.outcome, tuple(sorted(decision.statements)), decision.denial_kind


@PROPERTY_SETTINGS
@given(policy_sets(), contexts(), st.data())
def test_adding_a_deny_never_turns_a_denial_into_an_allow(
    policy_set: list[tuple[PolicyKind, dict[str, Any]]], context: RequestContext, data: st.DataObject
) -> None:
    before = decide(policy_set, context)
    target = data.draw(st.integers(0, len(policy_set) - 1))
    kind = policy_set[target][0]
    extra = data.draw(statements(kind, "AddedDeny"))
    extra["Effect"] = "Deny"
    changed = copy.deepcopy(policy_set)
    body = changed[target][1]["Statement"]
    body.insert(data.draw(st.integers(0, len(body))), extra)
    after = decide(changed, context)
    if before.outcome is not Outcome.ALLOW:
        assert after.outcome is not Outcome.ALLOW
    if before.outcome is Outcome.EXPLICIT_DENY:
        assert after.outcome is Outcome.EXPLICIT_DENY


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same document with every list (statements, values, policies) in another order."""
    if isinstance(value, list):
        items = [_shuffled(item, rng) for item in value]
        rng.shuffle(items)
        return items
    if isinstance(value, dict):
        return {key: _shuffled(item, rng) for key, item in value.items()}
    return value


@PROPERTY_SETTINGS
@given(policy_sets(), contexts(), st.randoms(use_true_random=False))
def test_reordering_statements_values_and_policies_never_changes_a_decision(
    policy_set: list[tuple[PolicyKind, dict[str, Any]]], context: RequestContext, rng: random.Random
) -> None:
    original = signature(decide(policy_set, context))
    indexed = list(enumerate(policy_set))
    rng.shuffle(indexed)
    policies = [parse_policy(_shuffled(doc, rng), kind, f"p{index}") for index, (kind, doc) in indexed]
    assert signature(evaluate(context, policies)) == original
    assert signature(decide(policy_set, context)) == original  # and asking again gives the same answer


@PROPERTY_SETTINGS
@given(policy_sets())
def test_documents_round_trip_through_serialize(policy_set: list[tuple[PolicyKind, dict[str, Any]]]) -> None:
    for kind, doc in policy_set:
        policy = parse_policy(doc, kind, "p")
        again = parse_policy(policy.serialize(), kind, "p")
        assert again == policy
        assert again.serialize() == policy.serialize()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
ELEMENT_NAMES = ["Version", "Id", "Statement", "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                 "Resource", "NotResource", "Condition", "AWS", "Service", "StringEquals", "ForAllValues:StringLike",
                 "NullIfExists", "Null", "DateLessThan", "IpAddress", "aws:SourceIp"]  # fmt: skip
POLICY_VALUES = st.sampled_from(
    ["Allow", "Deny", "2012-10-17", "2008-10-17", "*", "kms:*", "arn:aws:kms:*", "111122223333", "10.0.0.0/8",
     "2020-01-01T00:00:00Z", "${aws:username}", "${", "true", ""]
)  # fmt: skip
POLICY_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 20) | POLICY_VALUES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(ELEMENT_NAMES), children, max_size=5)
    ),
    max_leaves=30,
)


def only_validation_errors(document: Any, kind: PolicyKind) -> None:
    try:
        parse_policy(document, kind)
    except PolicyValidationError as error:
        assert error.message


@settings(max_examples=300, deadline=None)
@given(JSON | POLICY_LIKE, st.sampled_from(KINDS))
def test_parser_raises_only_validation_errors_on_arbitrary_json(document: Any, kind: PolicyKind) -> None:
    only_validation_errors(json.dumps(document), kind)
    if isinstance(document, dict):
        only_validation_errors(document, kind)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(bytes), st.sampled_from(KINDS))
def test_parser_raises_only_validation_errors_on_arbitrary_text(document: Any, kind: PolicyKind) -> None:
    only_validation_errors(document, kind)
