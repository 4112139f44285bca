"""Policy variables: substitution, defaults, escapes, unresolved keys, and where variables are text."""

from __future__ import annotations

from typing import Any

import pytest

from kmsd.policy import PolicyKind, parse_policy
from kmsd.policy.variables import Variable, parse_template
from kmsd.policy.wildcard import STAR
from tests.policy.helpers import ALICE, allow, condition_holds, decide, document, request

BUCKET = "arn:aws:s3:::bucket"


def test_parse_template_splits_text_wildcards_and_variables() -> None:
    template = parse_template("home/${aws:username}/*", variables=True, wildcards=True)
    assert template.parts == ("home/", Variable("aws:username"), "/", STAR)
    assert parse_template("${aws:PrincipalTag/team, 'none'}", variables=True, wildcards=False).parts == (
        Variable("aws:principaltag/team", "none"),
    )
    assert parse_template("a${*}b${?}c${$}", variables=True, wildcards=True).parts == ("a", "*", "b", "?", "c", "$")
    # Under 2008-10-17 there are no variables: the text is literal, and its * is still a wildcard.
    assert parse_template("${aws:username}*", variables=False, wildcards=True).parts == ("${aws:username}", STAR)
    # Text that is not a variable in IAM's grammar stays text.
    assert parse_template("${not valid}", variables=True, wildcards=False).parts == ("${not valid}",)


def test_variable_in_resource_part() -> None:
    policy = parse_policy(
        document(allow(action="s3:GetObject", resource=f"{BUCKET}/home/${{aws:username}}/*")), PolicyKind.IDENTITY
    )
    keys = {"aws:username": "alice"}
    assert decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/home/alice/a.txt", keys=keys)).allowed
    assert not decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/home/bob/a.txt", keys=keys)).allowed


def test_a_substituted_value_is_literal_text() -> None:
    policy = parse_policy(
        document(allow(action="s3:GetObject", resource=f"{BUCKET}/${{aws:username}}")), PolicyKind.IDENTITY
    )
    sneaky = {"aws:username": "*"}
    assert not decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/alice", keys=sneaky)).allowed
    assert decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/*", keys=sneaky)).allowed


def test_unresolved_variable_fails_the_comparison() -> None:
    policy = parse_policy(
        document(allow(action="s3:GetObject", resource=f"{BUCKET}/${{aws:username}}/*")), PolicyKind.IDENTITY
    )
    assert not decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/x/y")).allowed
    assert not condition_holds("StringEquals", "s3:prefix", "${aws:username}", {"s3:prefix": "alice"})
    # Even a negated operator fails: the variable makes the whole comparison fail.
    assert not condition_holds("StringNotEquals", "s3:prefix", "${aws:username}", {"s3:prefix": "alice"})


def test_unresolved_variable_in_not_resource_keeps_the_statement_from_applying() -> None:
    statement = {
        "Sid": "S",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "NotResource": f"{BUCKET}/${{aws:username}}/*",
    }
    policy = parse_policy(document(statement), PolicyKind.IDENTITY)
    assert not decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/x")).allowed
    assert decide([policy], request(action="s3:GetObject", resource=f"{BUCKET}/x", keys={"aws:username": "a"})).allowed


def test_defaults_apply_to_absent_keys() -> None:
    value = "${aws:PrincipalTag/team, 'company-wide'}"
    assert condition_holds("StringEquals", "test:Key", value, {"test:Key": "company-wide"})
    assert condition_holds("StringEquals", "test:Key", value, {"test:Key": "red", "aws:PrincipalTag/team": "red"})


def test_multivalued_keys_are_not_variables() -> None:
    assert not condition_holds("StringEquals", "test:Key", "${test:Set}", {"test:Key": "a", "test:Set": ["a"]})


def test_escapes_stand_for_literal_characters() -> None:
    assert condition_holds("StringLike", "test:Key", "a${*}", {"test:Key": "a*"})
    assert not condition_holds("StringLike", "test:Key", "a${*}", {"test:Key": "ab"})
    assert condition_holds("StringLike", "test:Key", "${?}", {"test:Key": "?"})
    assert not condition_holds("StringLike", "test:Key", "${?}", {"test:Key": "x"})
    assert condition_holds("StringEquals", "test:Key", "${$}{x}", {"test:Key": "${x}"})


def test_variables_are_literal_under_2008_10_17() -> None:
    statement = allow(action="s3:GetObject", resource=f"{BUCKET}/${{aws:username}}")
    old = parse_policy(document(statement, version="2008-10-17"), PolicyKind.IDENTITY)
    keys = {"aws:username": "alice"}
    assert not decide([old], request(action="s3:GetObject", resource=f"{BUCKET}/alice", keys=keys)).allowed
    assert decide([old], request(action="s3:GetObject", resource=f"{BUCKET}/${{aws:username}}", keys=keys)).allowed


def test_variables_only_in_the_resource_part_of_resource_arns() -> None:
    statement = allow(action="kms:Encrypt", resource="arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*")
    policy = parse_policy(document(statement), PolicyKind.IDENTITY)
    keys = {"aws:PrincipalAccount": "111122223333"}
    assert not decide([policy], request(keys=keys)).allowed


@pytest.mark.parametrize(
    ("operator", "value", "keys"),
    [
        ("StringEquals", "${aws:username}", {"test:Key": "alice", "aws:username": "alice"}),
        ("StringLike", "${aws:username}-*", {"test:Key": "alice-1", "aws:username": "alice"}),
        ("StringEqualsIgnoreCase", "${aws:username}", {"test:Key": "ALICE", "aws:username": "alice"}),
        (
            "ArnLike",
            "arn:aws:iam::${aws:PrincipalAccount}:user/*",
            {"test:Key": ALICE.arn, "aws:PrincipalAccount": "111122223333"},
        ),
        ("Bool", "${test:Flag}", {"test:Key": "true", "test:Flag": "TRUE"}),
    ],
)
def test_variables_in_string_arn_and_bool_operators(operator: str, value: str, keys: dict[str, Any]) -> None:
    assert condition_holds(operator, "test:Key", value, keys)
