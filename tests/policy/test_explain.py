"""Per-statement traces and the text report: which element kept each statement from applying."""

from __future__ import annotations

from kmsd.policy import AllowVia, Mismatch, PolicyKind
from kmsd.policy.explain import render_text
from tests.policy.helpers import ALICE, CAROL, allow, decide, deny, identity, request, resource_policy


def test_trace_says_why_each_statement_did_not_apply() -> None:
    user = identity(
        allow("WrongAction", action="kms:Decrypt"),
        {"Sid": "Excluded", "Effect": "Allow", "NotAction": "kms:Encrypt", "Resource": "*"},
        allow("WrongKey", resource="arn:aws:kms:*:111122223333:key/other"),
        {"Sid": "Outside", "Effect": "Allow", "Action": "kms:Encrypt", "NotResource": "arn:aws:kms:*:*:key/*"},
        allow(
            "Cond",
            Condition={"StringEquals": {"kms:EncryptionContext:app": "x"}, "Bool": {"aws:SecureTransport": "true"}},
        ),
        allow("Yes"),
    )
    key = resource_policy(
        {**allow("OtherUser"), "Principal": {"AWS": CAROL.arn}},
        {**deny("Exempt"), "NotPrincipal": {"AWS": [ALICE.arn, "111122223333"]}},
    )
    decision = decide([user, key], request(keys={"aws:SecureTransport": "true"}))
    trace = {entry.statement_id: entry for entry in decision.trace}
    assert [entry.statement_id for entry in decision.trace][:2] == ["user:WrongAction", "user:Excluded"]
    assert trace["user:WrongAction"].mismatch is Mismatch.ACTION
    assert "is not in Action [`kms:Decrypt`]" in trace["user:WrongAction"].detail
    assert "excluded by NotAction" in trace["user:Excluded"].detail
    assert trace["user:WrongKey"].mismatch is Mismatch.RESOURCE
    assert "excluded by NotResource" in trace["user:Outside"].detail
    cond = trace["user:Cond"]
    assert cond.mismatch is Mismatch.CONDITION
    assert [(c.operator, c.key, c.held) for c in cond.conditions] == [
        ("StringEquals", "kms:EncryptionContext:app", False),
        ("Bool", "aws:SecureTransport", True),
    ]
    assert "`StringEquals` on `kms:EncryptionContext:app`" in cond.detail
    assert trace["user:Yes"].matched and trace["user:Yes"].via is None
    assert trace["key:OtherUser"].mismatch is Mismatch.PRINCIPAL
    assert "is not named by Principal AWS" in trace["key:OtherUser"].detail
    assert "exempted by NotPrincipal" in trace["key:Exempt"].detail
    assert trace["key:OtherUser"].kind is PolicyKind.RESOURCE


def test_trace_of_a_matched_resource_statement_names_how_it_reached_the_caller() -> None:
    key = resource_policy({**allow("Account"), "Principal": {"AWS": "111122223333"}})
    (entry,) = decide([key]).trace
    assert entry.matched and entry.via is AllowVia.ACCOUNT
    assert entry.to_json()["via"] == "account"


def test_unresolved_variables_are_called_out() -> None:
    user = identity(allow("Home", action="s3:GetObject", resource="arn:aws:s3:::b/${aws:username}/*"))
    (entry,) = decide([user], request(action="s3:GetObject", resource="arn:aws:s3:::b/alice/x")).trace
    assert entry.mismatch is Mismatch.RESOURCE
    assert "unresolved variable" in entry.detail


def test_render_text_for_a_denial() -> None:
    context = request()
    decision = decide([identity(allow("Other", action="kms:Decrypt"))], context)
    text = render_text(decision, context)
    assert text.splitlines()[0] == "decision: ImplicitDeny"
    assert (
        "reason: User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: "
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab because no identity-based "
        "policy allows the kms:Encrypt action"
    ) in text
    assert "  user:Other [identity] Allow: no match (action): `kms:Encrypt` is not in Action [`kms:Decrypt`]" in text


def test_render_text_for_an_allow() -> None:
    context = request()
    key = resource_policy({**allow("Direct"), "Principal": {"AWS": ALICE.arn}})
    text = render_text(decide([key], context), context)
    assert "deciding statements: key:Direct" in text
    assert "resource: allowed (via principal)" in text
    assert "  key:Direct [resource] Allow: matched via principal" in text
    assert "reason:" not in text
