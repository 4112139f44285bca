"""Findings about valid documents (Access Analyzer's checks and kmsd's, used by `kmsd policy check`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsd.policy import PolicyKind, parse_policy
from kmsd.policy.findings import Finding, FindingType, review
from kmsd.policy.issue_codes import REFERENCE
from kmsd.policy.locations import DocumentMap, index, statement_path, value
from tests.policy.helpers import allow, deny, document


def findings(doc: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> list[Finding]:
    text = json.dumps(doc)
    return review(parse_policy(text, kind), DocumentMap(text))


def codes(doc: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> list[str]:
    return [finding.issue_code for finding in findings(doc, kind)]


def when(operator: str, key: str, values: Any) -> dict[str, Any]:
    return allow(Condition={operator: {key: values}})


def test_a_tidy_policy_has_no_findings() -> None:
    assert codes(document(allow(Condition={"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "app"}}))) == []


def test_missing_and_old_version() -> None:
    # Access Analyzer, "General Warning – Missing version".
    (missing,) = findings({"Statement": [allow()]})
    assert (missing.finding_type, missing.issue_code, missing.paths) == (FindingType.WARNING, "MISSING_VERSION", ((),))
    assert missing.details == (
        "We recommend that you specify the Version element to help you with debugging permission issues."
    )
    assert (
        missing.learn_more_link
        == f"{REFERENCE}#access-analyzer-reference-policy-checks-general-warning-missing-version"
    )
    (old,) = findings(document(allow(), version="2008-10-17"))
    assert (old.finding_type, old.issue_code, old.paths) == (
        FindingType.SUGGESTION,
        "OLD_VERSION",
        ((value("Version"),),),
    )


def test_allow_with_not_action_not_resource_and_not_principal() -> None:
    statement = {"Sid": "S", "Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b"}
    assert codes(document(statement)) == ["ALLOW_WITH_NOT_ACTION", "ALLOW_WITH_NOT_RESOURCE"]
    assert codes(document({**statement, "Effect": "Deny"})) == []
    excluded = {**allow(), "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}
    (finding,) = findings(document(excluded), PolicyKind.RESOURCE)
    # Access Analyzer, "Security Warning – Allow with NotPrincipal", in its wording.
    assert (finding.finding_type, finding.issue_code) == (FindingType.SECURITY_WARNING, "ALLOW_WITH_NOT_PRINCIPAL")
    assert finding.details == (
        "Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead."
    )
    assert finding.paths == (statement_path(0, value("NotPrincipal")),)
    assert codes(document({**excluded, "Effect": "Deny"}), PolicyKind.RESOURCE) == []


def test_public_resource_policies() -> None:
    assert codes(document({**allow(), "Principal": "*"}), PolicyKind.RESOURCE) == ["PUBLIC_ACCESS"]
    assert codes(document({**allow(), "Principal": {"AWS": "*"}}), PolicyKind.RESOURCE) == ["PUBLIC_ACCESS"]
    guarded = {**allow(), "Principal": "*", "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}
    assert codes(document(guarded), PolicyKind.RESOURCE) == []
    assert codes(document({**deny(), "Principal": "*"}), PolicyKind.RESOURCE) == []


def test_set_operators_and_key_types() -> None:
    assert codes(document(when("ForAllValues:StringEquals", "kms:EncryptionContextKeys", "a"))) == [
        "ALLOW_WITH_FOR_ALL_VALUES"
    ]
    assert codes(document(when("ForAllValues:IpAddress", "aws:SourceIp", "10.0.0.0/8"))) == [
        "FORALLVALUES_WITH_SINGLE_VALUED_KEY"
    ]
    assert codes(document(when("ForAnyValue:IpAddress", "aws:SourceIp", "10.0.0.0/8"))) == [
        "FORANYVALUE_WITH_SINGLE_VALUED_KEY"
    ]
    assert codes(document(when("StringEquals", "aws:TagKeys", "a"))) == ["MISSING_SET_OPERATOR"]
    (mismatch,) = findings(document(when("StringEquals", "aws:SourceIp", "10.0.0.1")))
    assert (mismatch.issue_code, mismatch.details) == (
        "TYPE_MISMATCH",
        "Use the operator type IpAddress instead of operator StringEquals for the condition key aws:SourceIp.",
    )
    assert mismatch.paths == (statement_path(0, value("Condition"), value("StringEquals"), value("aws:SourceIp")),)
    assert codes(document(when("StringLike", "aws:PrincipalArn", "arn:aws:iam::*"))) == []
    assert codes(document(when("Null", "aws:SourceIp", "true"))) == []


def test_values_of_the_wrong_shape() -> None:
    (boolean,) = findings(document(when("Bool", "aws:SecureTransport", ["true", "yes"])))
    assert (boolean.finding_type, boolean.issue_code) == (FindingType.WARNING, "TYPE_MISMATCH_BOOLEAN")
    where = statement_path(0, value("Condition"), value("Bool"), value("aws:SecureTransport"), index(1))
    assert boolean.paths == (where,)
    assert codes(document(when("StringEquals", "aws:PrincipalTag/team", "a*"))) == ["WILDCARD_WITHOUT_LIKE_OPERATOR"]
    assert codes(document(when("StringLike", "aws:PrincipalTag/team", "a*"))) == []
    assert codes(document(when("StringEquals", "aws:PrincipalTag/team", "a${*}"))) == []


def test_one_key_spelled_two_ways_under_one_operator() -> None:
    doc = document(allow(Condition={"StringEquals": {"kms:CallerAccount": "111122223333", "KMS:callerAccount": "1"}}))
    (finding,) = findings(doc)
    # Access Analyzer, "Error – Duplicate keys with different case".
    assert (finding.finding_type, finding.issue_code) == (FindingType.ERROR, "DUPLICATE_KEYS_WITH_DIFFERENT_CASE")
    assert finding.paths == (statement_path(0, value("Condition"), value("StringEquals"), value("KMS:callerAccount")),)


@pytest.mark.parametrize(
    "condition",
    [
        # The key must be absent, and StringEquals is false for an absent key.
        {"Null": {"kms:ViaService": "true"}, "StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
        # Days are never negative.
        {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "0"}},
        {"NumericLessThanEquals": {"kms:RotationPeriodInDays": ["-1", "-5"]}},
        # The request's time is never before the epoch.
        {"DateLessThan": {"aws:CurrentTime": "1970-01-01T00:00:00Z"}},
        {"DateLessThanEquals": {"aws:EpochTime": "-1"}},
    ],
)
def test_conditions_that_never_match(condition: dict[str, Any]) -> None:
    found = findings(document(allow(Condition=condition)))
    assert [(finding.finding_type, finding.issue_code) for finding in found] == [
        (FindingType.WARNING, "CONDITION_NEVER_MATCHES")
    ]
    assert "never" in found[0].details


@pytest.mark.parametrize(
    "condition",
    [
        {"Null": {"kms:ViaService": "false"}, "StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
        {"Null": {"kms:ViaService": "true"}, "StringNotEquals": {"kms:ViaService": "x"}},
        {"Null": {"kms:ViaService": "true"}, "StringEqualsIfExists": {"kms:ViaService": "x"}},
        {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": ["0", "10"]}},
        {"NumericLessThanEquals": {"kms:RotationPeriodInDays": "0"}},
        {"NumericGreaterThan": {"kms:RotationPeriodInDays": "-1"}},
        {"DateLessThan": {"aws:CurrentTime": "1970-01-01T00:00:01Z"}},
        {"DateLessThanEquals": {"aws:EpochTime": "0"}},
        {"NumericLessThan": {"aws:PrincipalTag/level": "0"}},
    ],
)
def test_conditions_that_can_match(condition: dict[str, Any]) -> None:
    assert "CONDITION_NEVER_MATCHES" not in codes(document(allow(Condition=condition)))


def test_redundant_actions() -> None:
    (finding,) = findings(document(allow(action=["kms:Encrypt", "KMS:encrypt"])))
    assert (finding.finding_type, finding.issue_code) == (FindingType.SUGGESTION, "REDUNDANT_ACTION")
    assert finding.paths == (statement_path(0, value("Action"), index(1)),)


def test_a_located_finding_renders_with_line_and_column_and_as_json() -> None:
    text = '{"Version": "2012-10-17",\n "Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": "*",\n'
    text += '  "Action": "kms:Encrypt", "Resource": "*"}]}'
    document_map = DocumentMap(text)
    (finding,) = review(parse_policy(text, PolicyKind.RESOURCE), document_map)
    located = finding.located(document_map)
    assert located.render("key.json") == f"key.json:2:63: security-warning: {finding.details} [PUBLIC_ACCESS]"
    assert located.to_json() == {
        "findingDetails": finding.details,
        "findingType": "SECURITY_WARNING",
        "issueCode": "PUBLIC_ACCESS",
        "learnMoreLink": "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
        "locations": [
            {
                "path": [{"value": "Statement"}, {"index": 0}, {"value": "Principal"}],
                "span": {
                    "start": {"line": 2, "column": 63, "offset": 89},
                    "end": {"line": 2, "column": 66, "offset": 92},
                },
            }
        ],
    }
    assert finding.render("key.json") == f"key.json: security-warning: {finding.details} [PUBLIC_ACCESS]"
