"""The evaluator's shortcuts answer exactly as a walk through every statement does.

To be cheap per request the evaluator keeps plans per policy set and subject,
runs specialized condition tests, reads plain IPv4 addresses with the C
library, and stops as soon as the outcome is settled, leaving the list of
matches and the key policy's naming of the caller to be worked out on
demand.  The explain trace walks every statement of every policy with the
general condition code and none of those shortcuts, so here it is the oracle:
over generated policies and requests, the outcome, the kind a denial names,
the deciding statements, every match and ``resource_via`` must agree with
AWS's rules applied to the trace.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kmsd.policy import (
    AllowVia,
    Outcome,
    PolicyKind,
    PrincipalInfo,
    RequestContext,
    evaluate,
    parse_policy,
)
from kmsd.policy.compiled import compiled_of
from kmsd.policy.values import parse_ipv4_address, parse_network
from tests.helpers.policy_oracle import (
    assert_agrees_with_trace,
)
from tests.helpers.policy_strategies import CONDITIONS, PROPERTY_SETTINGS, contexts, policy_sets
from tests.policy.helpers import (
    ACCOUNT,
    ALICE,
    KEY_ARN,
    ROLE_ARN,
    SESSION,
    allow,
    decide,
    deny,
    identity,
    request,
    resource_policy,
)


def respelled(context: RequestContext, cases: list[bool]) -> RequestContext:
    """The same request with some key names upper-cased: names are case-insensitive."""
    keys = {
        (name.upper() if cases[index % len(cases)] else name): value
        for index, (name, value) in enumerate(context.keys.items())
    }
    return RequestContext(context.action, context.resource, context.principal, keys, context.resource_account)


@PROPERTY_SETTINGS
@given(policy_sets(), contexts(), st.lists(st.booleans(), min_size=1, max_size=4))
def test_shortcuts_agree_with_every_statement_walked(
    policy_set: list[tuple[PolicyKind, dict[str, Any]]], context: RequestContext, cases: list[bool]
) -> None:
    policies = [parse_policy(doc, kind, f"p{index}") for index, (kind, doc) in enumerate(policy_set)]
    kinds = {policy.kind for policy in policies}
    assert_agrees_with_trace(evaluate(context, policies), context, kinds)
    # Again with the plan already made, through a new context with the key names spelled differently.
    again = respelled(context, cases)
    assert_agrees_with_trace(evaluate(again, policies), again, kinds)


def variants(block: dict[str, dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """The condition block, and the same with IfExists and with each set operator where IAM allows them."""
    found = [block]
    for operator, pairs in block.items():
        if operator == "Null" or ":" in operator or operator.endswith("IfExists"):
            continue
        found += [
            {f"{operator}IfExists": pairs},
            {f"ForAllValues:{operator}": pairs},
            {f"ForAnyValue:{operator}": pairs},
        ]
    return found


@PROPERTY_SETTINGS
@given(st.sampled_from(CONDITIONS), contexts())
def test_specialized_condition_tests_agree_with_the_general_one(
    block: dict[str, dict[str, Any]], context: RequestContext
) -> None:
    policy = identity(*(allow(f"V{index}", Condition=variant) for index, variant in enumerate(variants(block))))
    for statement in compiled_of(policy).statements:
        for condition in statement.conditions:
            assert condition.holds(context) == condition.evaluate(context)


@given(st.lists(st.integers(0, 300).map(str) | st.text("0123456789 x+", max_size=4), min_size=1, max_size=5))
def test_plain_ipv4_addresses_are_read_as_ipaddress_reads_them(octets: list[str]) -> None:
    text = ".".join(octets)
    fast = parse_ipv4_address(text)
    network = parse_network(text)
    bare = network is not None and network.version == 4 and network.prefixlen == 32 and text == text.strip()
    if fast is not None:
        assert network is not None and bare and int(network.network_address) == fast
    else:
        # What the fast path leaves is read by ipaddress, so nothing is lost; but no bare address is left to it.
        assert not (bare and "/" not in text)


def test_ipv6_and_ranges_are_left_to_ipaddress() -> None:
    assert parse_ipv4_address("2001:db8::1") is None
    assert parse_ipv4_address("10.0.0.0/8") is None
    assert parse_ipv4_address("10.0.0.1") == int(ipaddress.IPv4Address("10.0.0.1"))


def test_every_request_address_is_read_afresh() -> None:
    # More distinct addresses than any cache holds, alternating inside and outside the range.
    policy = identity(allow("Net", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    for index in range(3000):
        inside = index % 2 == 0
        address = f"{10 if inside else 11}.{index // 256}.{index % 256}.1"
        assert decide([policy], request(keys={"aws:SourceIp": address})).allowed is inside


def test_two_spellings_of_one_key_must_both_pass_an_allow_in_either_order() -> None:
    # Issue 9 item 11: the decision used to follow the later spelling, so member order decided it.
    policy = identity(allow("Net", Condition={"IpAddress": {"aws:sourceip": "10.0.0.0/8"}}))
    assert not decide([policy], request(keys={"aws:SourceIp": "8.8.8.8", "AWS:SOURCEIP": "10.1.1.1"})).allowed
    assert not decide([policy], request(keys={"AWS:SOURCEIP": "10.1.1.1", "aws:SourceIp": "8.8.8.8"})).allowed
    assert decide([policy], request(keys={"AWS:SOURCEIP": "10.1.1.1", "aws:SourceIp": "10.2.2.2"})).allowed


def test_resource_via_names_the_most_direct_allow_of_the_key_policy() -> None:
    account = {**allow("Account"), "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}
    role = {**allow("Role"), "Principal": {"AWS": ROLE_ARN}}
    session = {**allow("Session"), "Principal": {"AWS": SESSION.arn}}
    user_allows = identity(allow("Id"))
    cases = [
        ([account], AllowVia.ACCOUNT),
        ([account, role], AllowVia.ROLE),
        ([role, account, session], AllowVia.PRINCIPAL),
        ([{**allow("Other"), "Principal": {"AWS": ALICE.arn}}], None),
    ]
    for statements, expected in cases:
        decision = decide([resource_policy(*statements), user_allows], request(SESSION))
        assert decision.resource_via is expected
        assert decision.kinds[PolicyKind.RESOURCE].allow_via is expected


def test_a_plan_serves_only_its_own_policies_caller_and_resource() -> None:
    document_statements = (allow("Use", resource=KEY_ARN), deny("NoDecrypt", action="kms:Decrypt"))
    first = identity(*document_statements, policy_id="first")
    second = identity(*document_statements, policy_id="second")
    assert compiled_of(first) is compiled_of(second)  # one compiled document, two policies
    assert decide([first]).statements == ("first:Use",)
    assert decide([second]).statements == ("second:Use",)
    assert decide([first, second]).statements == ("first:Use", "second:Use")
    assert not decide([first], request(resource=KEY_ARN.replace("1234abcd", "9999abcd"))).allowed
    decrypting = decide([first], request(action="kms:Decrypt"))
    assert (decrypting.outcome, decrypting.denial_kind) == (Outcome.EXPLICIT_DENY, PolicyKind.IDENTITY)
    key_policy = resource_policy({**allow("Alice"), "Principal": {"AWS": ALICE.arn}})
    assert decide([key_policy], request(PrincipalInfo(ALICE.arn, ACCOUNT, "user"))).allowed
    assert not decide([key_policy], request(SESSION)).allowed


def test_plans_stay_right_when_their_caches_are_emptied() -> None:
    # More subjects than a compiled document keeps plans for: every answer is still worked out correctly.
    policy = identity(allow("Keys", resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/even-*"))
    for index in range(2500):
        key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{'even' if index % 2 == 0 else 'odd'}-{index}"
        assert decide([policy], request(resource=key)).allowed is (index % 2 == 0)


def test_conditions_run_cheapest_first_and_traces_keep_the_document_order() -> None:
    policy = identity(
        allow(
            "Mixed",
            Condition={
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "StringLike": {"kms:EncryptionContext:project": "${aws:username}*"},
                "Null": {"kms:ViaService": "true"},
                "StringEquals": {"aws:SecureTransport": "true"},
            },
        )
    )
    statement = compiled_of(policy).statements[0]
    assert sorted(statement.conditions_by_cost, key=id) == sorted(statement.conditions, key=id)
    costs = [condition.cost for condition in statement.conditions_by_cost]
    assert costs == sorted(costs)
    assert statement.conditions_by_cost[0].operator.name == "Null"
    decision = decide([policy], request(keys={"aws:SourceIp": "8.8.8.8"}))
    (trace,) = decision.trace
    assert [condition.operator for condition in trace.conditions] == [
        c.operator for c in policy.statements[0].conditions
    ]


def test_a_context_reads_its_keys_case_insensitively_without_copying_them() -> None:
    keys: dict[str, str | list[str]] = {"aws:SourceIp": "10.0.0.1", "kms:EncryptionContextKeys": ["a", "b"]}
    context = RequestContext("kms:Encrypt", KEY_ARN, ALICE, keys)
    assert context.keys is keys
    assert context.value("aws:sourceip") == "10.0.0.1"
    assert context.value("kms:encryptioncontextkeys") == ("a", "b")  # multivalued: a tuple
    assert context.value("aws:username") is None
    assert context.spellings["aws:sourceip"] == "aws:SourceIp"
    assert request(keys={"A:B": "x"}).spellings == request(keys={"A:B": "y"}).spellings  # one per set of names
