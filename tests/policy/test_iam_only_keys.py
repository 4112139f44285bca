"""Keys a request gives only to IAM policies: resource-based policies see them as absent, everywhere.

KMS Developer Guide, "Use tags to control access to KMS keys": "the
aws:ResourceTag/tag-key condition key is supported only in IAM policies. It
isn't supported in key policies"; "Condition keys for AWS KMS",
kms:ResourceAliases: "You can use this condition key only in IAM policies."
The corpus (tests/corpus/policy/iam_only_keys.json) pins the decisions; these
tests pin the context view itself, the lazy parts of a decision and the trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kmsd.policy import AllowVia, KindMatch, Mismatch, Outcome, PolicyKind, RequestContext, evaluate, parse_policy
from kmsd.policy.compiled import compiled_of
from kmsd.policy.explain import trace_statements
from kmsd.policy.plans import PolicySetPlan
from tests.helpers.policy_oracle import assert_agrees_with_trace
from tests.helpers.policy_strategies import PROPERTY_SETTINGS, contexts, policy_sets
from tests.policy.helpers import ALICE, KEY_ARN, allow, decide, deny, identity, resource_policy

HIDDEN = frozenset({"aws:ResourceTag/*", "kms:ResourceAliases"})
TAGGED: dict[str, str | Sequence[str]] = {
    "aws:ResourceTag/Project": "Alpha",
    "kms:ResourceAliases": ("alias/TestKey",),
    "kms:RequestAlias": "alias/TestKey",
    "aws:SourceIp": "10.0.0.1",
}
ACCOUNT_ALLOWS = {**allow("EnableIAM", action="kms:*"), "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}


def hidden_request(keys: Mapping[str, str | Sequence[str]] = TAGGED, hidden: frozenset[str] = HIDDEN) -> RequestContext:
    return RequestContext("kms:Encrypt", KEY_ARN, ALICE, dict(keys), iam_only_keys=hidden)


def names_alice(statement: dict[str, Any]) -> dict[str, Any]:
    return {**statement, "Principal": {"AWS": ALICE.arn}}


def test_a_context_without_iam_only_keys_is_its_own_resource_view() -> None:
    context = RequestContext("kms:Encrypt", KEY_ARN, ALICE, dict(TAGGED))
    assert context.iam_only_keys == frozenset()
    assert context.for_resource_policies() is context


def test_a_context_whose_iam_only_keys_are_absent_is_its_own_resource_view() -> None:
    context = hidden_request({"aws:SourceIp": "10.0.0.1"})
    assert context.for_resource_policies() is context
    assert context.for_resource_policies() is context


def test_the_resource_view_leaves_out_names_and_prefixes_ignoring_case() -> None:
    context = hidden_request(
        {**TAGGED, "AWS:RESOURCETAG/Env": "Prod"}, frozenset({"aws:resourcetag/*", "KMS:ResourceAliases"})
    )
    view = context.for_resource_policies()
    assert view is not context
    assert view.value("aws:resourcetag/project") is None
    assert view.value("aws:resourcetag/env") is None
    assert view.value("kms:resourcealiases") is None
    # Everything else stays, and so does the whole request for the other kinds.
    assert view.value("kms:requestalias") == "alias/TestKey"
    assert view.value("aws:sourceip") == "10.0.0.1"
    assert (view.action, view.resource, view.principal) == (context.action, context.resource, context.principal)
    assert view.iam_only_keys == frozenset()
    assert context.value("aws:resourcetag/project") == "Alpha"
    assert context.value("kms:resourcealiases") == ("alias/TestKey",)


def test_the_resource_view_is_built_once_per_context() -> None:
    context = hidden_request()
    assert context.for_resource_policies() is context.for_resource_policies()


def test_an_exact_name_hides_only_that_key() -> None:
    view = hidden_request(hidden=frozenset({"aws:ResourceTag/Project"})).for_resource_policies()
    assert view.value("aws:resourcetag/project") is None
    assert view.value("kms:resourcealiases") == ("alias/TestKey",)


def test_key_policy_condition_on_a_tag_does_not_allow_but_an_iam_policy_does() -> None:
    tag_condition = {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}}
    key = resource_policy(names_alice(allow("Tagged", Condition=tag_condition)))
    assert decide([key], hidden_request()).outcome is Outcome.IMPLICIT_DENY
    key_with_delegation = resource_policy(ACCOUNT_ALLOWS)
    user = identity(allow("Tagged", Condition=tag_condition))
    decision = decide([key_with_delegation, user], hidden_request())
    assert decision.allowed
    assert decision.statements == ("key:EnableIAM", "user:Tagged")


def test_lazy_decision_detail_uses_the_resource_view() -> None:
    # The evaluator settles this Allow from the identity side; statements, kinds and resource_via come later.
    key = resource_policy(
        ACCOUNT_ALLOWS,
        names_alice(allow("Aliased", Condition={"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/Test*"}})),
    )
    decision = decide([key, identity(allow("Use"))], hidden_request())
    assert decision.allowed
    assert decision.statements == ("key:EnableIAM", "user:Use")
    verdict = decision.kinds[PolicyKind.RESOURCE]
    assert verdict.allow_statements == ("key:EnableIAM",)
    assert verdict.allow_via is AllowVia.ACCOUNT
    assert decision.resource_via is AllowVia.ACCOUNT


def test_a_negated_key_policy_deny_on_a_hidden_key_applies() -> None:
    # StringNotEquals on a missing key is true: the key policy's deny applies though the key's tag is Alpha.
    key = resource_policy(
        names_alice(allow("Use")),
        names_alice(deny("NotAlpha", Condition={"StringNotEquals": {"aws:ResourceTag/Project": "Alpha"}})),
    )
    decision = decide([key], hidden_request())
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.denial_kind is PolicyKind.RESOURCE
    assert decision.statements == ("key:NotAlpha",)
    assert decision.kinds[PolicyKind.RESOURCE].match is KindMatch.DENIED
    assert decide([key], hidden_request(hidden=frozenset())).allowed


def test_resource_via_ignores_a_key_policy_statement_that_needs_a_hidden_key() -> None:
    key = resource_policy(
        ACCOUNT_ALLOWS,
        names_alice(allow("Tagged", Condition={"StringEquals": {"aws:ResourceTag/Project": "Alpha"}})),
    )
    decision = decide([key, identity(allow("Use"))], hidden_request())
    assert decision.allowed
    assert decision.resource_via is AllowVia.ACCOUNT
    assert decision.statements == ("key:EnableIAM", "user:Use")


def test_variables_reading_a_hidden_key_are_unresolved_in_resource_policies_only() -> None:
    keys = {**TAGGED, "kms:EncryptionContext:Project": "Alpha"}
    condition = {"StringEquals": {"kms:EncryptionContext:Project": "${aws:ResourceTag/Project}"}}
    key = resource_policy(names_alice(allow("Same", Condition=condition)))
    assert not decide([key], hidden_request(keys)).allowed
    both = [resource_policy(ACCOUNT_ALLOWS), identity(allow("Same", Condition=condition))]
    assert decide(both, hidden_request(keys)).allowed
    # A variable in Resource is resolved from the same view.
    by_tag = resource_policy(names_alice(allow("ByTag", resource="arn:aws:kms:*:*:key/${aws:ResourceTag/KeyId}")))
    key_id = KEY_ARN.rsplit("/", 1)[1]
    assert not decide([by_tag], hidden_request({"aws:ResourceTag/KeyId": key_id})).allowed
    assert decide([by_tag], hidden_request({"aws:ResourceTag/KeyId": key_id}, frozenset())).allowed


def test_trace_evaluates_resource_policies_without_the_hidden_keys() -> None:
    tag_condition = {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}}
    key = resource_policy(ACCOUNT_ALLOWS, names_alice(allow("Tagged", Condition=tag_condition)))
    user = identity(allow("Tagged", Condition=tag_condition))
    trace = {entry.statement_id: entry for entry in decide([key, user], hidden_request()).trace}
    key_entry = trace["key:Tagged"]
    assert key_entry.mismatch is Mismatch.CONDITION
    assert [(c.key, c.held) for c in key_entry.conditions] == [("aws:ResourceTag/Project", False)]
    assert trace["user:Tagged"].matched
    assert [(c.key, c.held) for c in trace["user:Tagged"].conditions] == [("aws:ResourceTag/Project", True)]


def test_a_plan_builds_the_view_only_when_a_resource_statement_reads_a_hidden_key() -> None:
    context = hidden_request()
    plain = (
        resource_policy(ACCOUNT_ALLOWS),
        identity(allow("Tagged", Condition={"Null": {"aws:ResourceTag/x": "false"}})),
    )
    assert PolicySetPlan(plain, context).resource_context(context) is context
    for statement in (
        names_alice(allow("Cond", Condition={"StringLike": {"AWS:ResourceTag/Project": "A*"}})),
        names_alice(allow("Var", Condition={"StringEquals": {"test:a": "${kms:resourcealiases}"}})),
        names_alice(allow("Res", resource="arn:aws:kms:*:*:key/${aws:ResourceTag/KeyId}")),
    ):
        plan = PolicySetPlan((resource_policy(statement),), context)
        assert plan.resource_context(context) is context.for_resource_policies() is not context
    assert compiled_of(resource_policy(statement)).statements[0].context_keys == frozenset({"aws:resourcetag/keyid"})


def without(keys: Mapping[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """``keys`` with the hidden ones removed: the oracle, spelled out apart from the engine's own matching."""

    def is_hidden(name: str) -> bool:
        folded = name.lower()
        return any(
            folded.startswith(entry[:-1].lower()) if entry.endswith("*") else folded == entry.lower()
            for entry in hidden
        )

    return {name: value for name, value in keys.items() if not is_hidden(name)}


@PROPERTY_SETTINGS
@given(
    policy_sets(),
    contexts(),
    st.sets(
        st.sampled_from(["test:a", "TEST:N", "test:*", "aws:username", "aws:SourceIp", "test:set"]),
        min_size=1,
        max_size=3,
    ),
)
def test_resource_policies_decide_as_if_the_hidden_keys_were_not_sent(
    policy_set: list[tuple[PolicyKind, dict[str, Any]]], context: RequestContext, hidden: set[str]
) -> None:
    iam_only = frozenset(hidden)
    policies = [parse_policy(doc, kind, f"p{index}") for index, (kind, doc) in enumerate(policy_set)]
    marked = RequestContext(
        context.action, context.resource, context.principal, context.keys, context.resource_account, iam_only
    )
    decision = evaluate(marked, policies)
    assert_agrees_with_trace(decision, marked, {policy.kind for policy in policies})
    stripped = RequestContext(
        context.action,
        context.resource,
        context.principal,
        without(context.keys, iam_only),
        context.resource_account,
    )
    boundary = any(policy.kind is PolicyKind.PERMISSIONS_BOUNDARY for policy in policies)
    expected = sorted(
        (entry.statement_id, entry.effect == "Deny")
        for policy in policies
        for entry in trace_statements(stripped if policy.kind is PolicyKind.RESOURCE else context, [policy], boundary)
        if entry.matched
    )
    assert sorted((match.statement_id, match.deny) for match in decision.matches) == expected
