"""Warnings about valid documents (Access Analyzer-style checks used by `kmsd policy check`)."""

from __future__ import annotations

from typing import Any

from kmsd.policy import PolicyKind, parse_policy
from kmsd.policy.findings import Severity, review
from tests.policy.helpers import allow, deny, document


def codes(doc: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> list[str]:
    return [finding.code for finding in review(parse_policy(doc, kind))]


def test_a_tidy_policy_has_no_findings() -> None:
    assert codes(document(allow(Condition={"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "app"}}))) == []


def test_old_or_missing_version() -> None:
    assert codes({"Statement": [allow()]}) == ["old-version"]


def test_allow_with_not_action_and_not_resource() -> None:
    statement = {"Sid": "S", "Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b"}
    assert codes(document(statement)) == ["allow-with-not-action", "allow-with-not-resource"]
    assert codes(document({**statement, "Effect": "Deny"})) == []


def test_public_resource_policies() -> None:
    assert codes(document({**allow(), "Principal": "*"}), PolicyKind.RESOURCE) == ["public-access"]
    assert codes(document({**allow(), "Principal": {"AWS": "*"}}), PolicyKind.RESOURCE) == ["public-access"]
    guarded = {**allow(), "Principal": "*", "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}
    assert codes(document(guarded), PolicyKind.RESOURCE) == []
    assert codes(document({**deny(), "Principal": "*"}), PolicyKind.RESOURCE) == []


def test_set_operators_and_key_types() -> None:
    assert codes(document(allow(Condition={"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "a"}}))) == [
        "allow-with-for-all-values"
    ]
    assert codes(document(allow(Condition={"ForAnyValue:IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))) == [
        "set-operator-on-single-valued-key"
    ]
    assert codes(document(allow(Condition={"StringEquals": {"aws:TagKeys": "a"}}))) == ["missing-set-operator"]
    assert codes(document(allow(Condition={"StringEquals": {"aws:SourceIp": "10.0.0.1"}}))) == ["type-mismatch"]
    assert codes(document(allow(Condition={"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}))) == []
    assert codes(document(allow(Condition={"Null": {"aws:SourceIp": "true"}}))) == []


def test_redundant_actions() -> None:
    assert codes(document(allow(action=["kms:Encrypt", "KMS:encrypt"]))) == ["redundant-action"]


def test_rendering() -> None:
    (finding,) = review(parse_policy(document({**allow("Open"), "Principal": "*"}), PolicyKind.RESOURCE))
    assert finding.severity is Severity.SECURITY_WARNING
    assert finding.render().startswith("security-warning: statement Open: ")
    assert finding.render().endswith("[public-access]")
