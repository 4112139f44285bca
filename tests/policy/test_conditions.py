"""Condition operators, one family at a time, with AWS's rules for missing keys, negation, sets and IfExists."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy.helpers import allow, condition_holds, decide, identity, request

Keys = dict[str, Any]


def holds(operator: str, values: Any, keys: Keys, key: str = "test:Key") -> bool:
    return condition_holds(operator, key, values, keys)


@pytest.mark.parametrize(
    ("operator", "values", "value", "expected"),
    [
        ("StringEquals", "abc", "abc", True),
        ("StringEquals", "abc", "ABC", False),  # values are case-sensitive
        ("StringEquals", ["x", "abc"], "abc", True),  # several values are OR
        ("StringEquals", "a*", "abc", False),  # no wildcards in StringEquals
        ("StringEquals", "a*", "a*", True),
        ("StringNotEquals", "abc", "abc", False),
        ("StringNotEquals", ["x", "y"], "abc", True),  # negated: NOR over the values
        ("StringNotEquals", ["x", "abc"], "abc", False),
        ("StringEqualsIgnoreCase", "ABC", "abc", True),
        ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
        ("StringNotEqualsIgnoreCase", "ABD", "abc", True),
        ("StringLike", "a*c", "abbc", True),
        ("StringLike", "a?c", "abc", True),
        ("StringLike", "A*", "abc", False),
        ("StringLike", "*", "", True),  # an empty value is still a value
        ("StringNotLike", ["x*", "a*"], "abc", False),
        ("StringNotLike", ["x*", "y*"], "abc", True),
        ("NumericEquals", "10", "10", True),
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", 10, "10", True),  # a JSON number
        ("NumericNotEquals", "10", "11", True),
        ("NumericNotEquals", ["10", "11"], "11", False),
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "10", "10.5", True),
        ("NumericGreaterThanEquals", "-1", "-1", True),
        ("NumericLessThan", "10", "ten", False),  # a request value that is no number never matches
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),  # epoch seconds and ISO 8601 compare
        ("DateEquals", "1577836800", "2020-01-01T01:00:00+01:00", True),
        ("DateNotEquals", "2020-01-01", "2020-01-01T00:00:00Z", False),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
        ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2020-01-01", "2020-01-01T00:00:01Z", True),
        ("DateGreaterThanEquals", "2020-06", "2020-06-01T00:00:00.000Z", True),
        ("DateGreaterThan", "2020", "1970-01-01T00:34:00Z", True),  # digits alone are epoch seconds (2020 s)
        ("DateLessThan", "2030-01-01T00:00:00Z", "not a date", False),
        ("Bool", "true", "true", True),
        ("Bool", "true", "True", True),
        ("Bool", "false", "true", False),
        ("Bool", True, "true", True),  # a JSON boolean
        ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
        ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "BinaryValueInBase64", True),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJ6", False),
        ("IpAddress", "203.0.113.0/24", "203.0.113.77", True),
        ("IpAddress", "203.0.113.0/24", "203.0.114.1", False),
        ("IpAddress", "203.0.113.5", "203.0.113.5", True),  # no prefix means /32
        ("IpAddress", "203.0.113.5", "203.0.113.6", False),
        ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
        ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
        ("IpAddress", "0.0.0.0/0", "2001:db8::1", False),  # v4 ranges never hold v6 addresses
        ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
        ("IpAddress", "10.0.0.0/8", "garbage", False),
        ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "172.16.0.1", True),
        ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "192.168.1.1", False),
        ("ArnEquals", "arn:aws:sns:us-east-1:111122223333:topic", "arn:aws:sns:us-east-1:111122223333:topic", True),
        ("ArnEquals", "arn:aws:sns:*:111122223333:*", "arn:aws:sns:us-east-1:111122223333:topic", True),
        ("ArnLike", "arn:aws:sns:*:111122223333:*", "arn:aws:sns:us-east-1:111122223333:topic", True),
        ("ArnLike", "arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:role/a/b", True),
        ("ArnLike", "arn:aws:iam::111122223333:ROLE/*", "arn:aws:iam::111122223333:role/a", False),
        ("ArnLike", "*", "anything", True),
        ("ArnLike", "arn:aws:iam::*", "not-an-arn", False),
        ("ArnNotEquals", "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob", True),
        ("ArnNotLike", "arn:aws:iam::111122223333:*", "arn:aws:iam::111122223333:user/bob", False),
    ],
)
def test_operator_on_a_present_single_value(operator: str, values: Any, value: str, expected: bool) -> None:
    assert holds(operator, values, {"test:Key": value}) is expected


def test_arn_operators_match_component_by_component() -> None:
    # "Condition operators", ARN: StringLike's * crosses colons, ArnLike's stays inside one component.
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert holds("StringLike", pattern, {"test:Key": value})
    assert not holds("ArnLike", pattern, {"test:Key": value})


POSITIVE = ["StringEquals", "StringLike", "NumericEquals", "DateEquals", "Bool", "BinaryEquals", "IpAddress", "ArnLike"]
NEGATED = ["StringNotEquals", "StringNotLike", "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotLike"]
SAMPLE = {
    "String": "x",
    "Numeric": "1",
    "Date": "2020-01-01T00:00:00Z",
    "Bool": "true",
    "BinaryEquals": "eA==",
    "IpAddress": "10.0.0.0/8",
    "NotIpAddress": "10.0.0.0/8",
    "Arn": "arn:aws:iam::111122223333:root",
}


def sample(operator: str) -> str:
    return next(value for prefix, value in SAMPLE.items() if operator.startswith(prefix))


@pytest.mark.parametrize("operator", POSITIVE)
def test_missing_key_fails_a_positive_operator_and_ifexists_holds(operator: str) -> None:
    assert not holds(operator, sample(operator), {})
    assert holds(operator + "IfExists", sample(operator), {})


@pytest.mark.parametrize("operator", NEGATED)
def test_missing_key_satisfies_a_negated_operator(operator: str) -> None:
    assert holds(operator, sample(operator), {})
    assert holds(operator + "IfExists", sample(operator), {})


def test_ifexists_still_compares_a_present_key() -> None:
    assert holds("StringEqualsIfExists", "a", {"test:Key": "a"})
    assert not holds("StringEqualsIfExists", "a", {"test:Key": "b"})
    assert not holds("StringNotEqualsIfExists", "a", {"test:Key": "a"})


def test_null() -> None:
    assert holds("Null", "true", {})
    assert not holds("Null", "true", {"test:Key": "x"})
    assert holds("Null", "false", {"test:Key": ""})  # an empty string is present
    assert not holds("Null", "false", {})
    assert holds("Null", True, {})
    assert holds("Null", "true", {"test:Key": []})  # an empty set of values counts as absent
    assert holds("Null", ["true", "false"], {"test:Key": "x"})


def test_condition_key_names_are_case_insensitive() -> None:
    assert condition_holds("StringEquals", "AWS:UserName", "alice", {"aws:username": "alice"})
    assert condition_holds("StringEquals", "aws:username", "alice", {"AWS:USERNAME": "alice"})


def test_plain_operator_on_a_multivalued_key_with_several_values_is_false() -> None:
    # A single-valued operator compares one value; a set needs ForAnyValue/ForAllValues.
    keys = {"test:Key": ["a", "b"]}
    assert not holds("StringEquals", ["a", "b"], keys)
    assert not holds("StringNotEquals", "c", keys)
    assert not holds("StringEqualsIfExists", ["a", "b"], keys)
    assert holds("StringEquals", "a", {"test:Key": ["a"]})  # a set of one is compared as its value


@pytest.mark.parametrize(
    ("operator", "values", "request_values", "expected"),
    [
        ("ForAnyValue:StringEquals", ["a", "x"], ["a", "b"], True),
        ("ForAnyValue:StringEquals", ["x"], ["a", "b"], False),
        ("ForAnyValue:StringEquals", ["a"], "a", True),
        ("ForAllValues:StringEquals", ["a", "b", "c"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a"], ["a", "b"], False),
        ("ForAllValues:StringLike", ["a*"], ["ab", "ac"], True),
        ("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], True),  # b is not a
        ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "b"], False),
        ("ForAllValues:StringNotEquals", ["x"], ["a", "b"], True),
        ("ForAllValues:StringNotEquals", ["a"], ["a", "b"], False),
        ("ForAnyValue:NumericGreaterThan", "5", ["1", "9"], True),
        ("ForAllValues:NumericGreaterThan", "5", ["1", "9"], False),
        ("ForAnyValue:IpAddress", "10.0.0.0/8", ["192.168.0.1", "10.1.1.1"], True),
        ("ForAllValues:ArnLike", "arn:aws:iam::111122223333:*", ["arn:aws:iam::111122223333:user/a"], True),
    ],
)
def test_set_operators(operator: str, values: Any, request_values: Any, expected: bool) -> None:
    assert holds(operator, values, {"test:Key": request_values}) is expected


def test_set_operators_on_missing_and_empty_keys() -> None:
    empty: list[Keys] = [{}, {"test:Key": []}]
    for keys in empty:
        assert holds("ForAllValues:StringEquals", "a", keys)
        assert not holds("ForAnyValue:StringEquals", "a", keys)
        assert holds("ForAnyValue:StringEqualsIfExists", "a", keys)
        assert holds("ForAllValues:StringNotEquals", "a", keys)
        assert not holds("ForAnyValue:StringNotEquals", "a", keys)


def test_several_keys_and_operators_are_anded() -> None:
    block = {"StringEquals": {"test:A": "1", "test:B": "2"}, "Bool": {"test:C": "true"}}
    policy = identity(allow("Cond", Condition=block))
    assert decide([policy], request(keys={"test:A": "1", "test:B": "2", "test:C": "true"})).allowed
    assert not decide([policy], request(keys={"test:A": "1", "test:B": "2", "test:C": "false"})).allowed
    assert not decide([policy], request(keys={"test:A": "1", "test:C": "true"})).allowed
