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

from hypothesis import given, settings
from hypothesis import strategies as st

from kmsd.policy import (
    Decision,
    Outcome,
    PolicyKind,
    PolicyValidationError,
    RequestContext,
    evaluate,
    parse_policy,
)
from tests.helpers.policy_strategies import (
    KINDS,
    PROPERTY_SETTINGS,
    contexts,
    policy_sets,
    statements,
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
