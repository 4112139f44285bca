"""`lint_policy`: refusals as located ERROR findings, the review and extra checks, the ValidatePolicy response."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from kmsd.policy import Policy, PolicyKind
from kmsd.policy.findings import Finding, FindingType
from kmsd.policy.limits import USER_INLINE_POLICY
from kmsd.policy.lint import lint_policy
from kmsd.policy.locations import statement_path, value
from tests.policy.helpers import allow, document

KNOWN = {"kms": ["Encrypt", "Decrypt", "GetKeyPolicy"]}


def only(text: str | bytes, kind: PolicyKind = PolicyKind.IDENTITY) -> dict[str, Any]:
    report = lint_policy(text, kind)
    assert report.refused
    (finding,) = report.to_json()["findings"]
    assert isinstance(finding, dict)
    return finding


def where(finding: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int, str]:
    (location,) = finding["locations"]
    start = location["span"]["start"]
    return location["path"], start["line"], start["column"], finding["issueCode"]


def test_json_syntax_errors_point_at_the_character() -> None:
    finding = only('{\n  "Version": "2012-10-17",\n  "Statement": [}')
    assert finding["findingType"] == "ERROR"
    assert where(finding) == ([], 3, 16, "JSON_SYNTAX_ERROR")
    assert finding["findingDetails"].startswith("Syntax errors in policy. (the document is not valid JSON")
    assert finding["learnMoreLink"].endswith("#access-analyzer-reference-policy-checks-error-json-syntax-error")


def test_refusals_point_at_the_element_at_fault() -> None:
    text = '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",\n'
    text += ' "Principle": "*"}]}'
    assert where(only(text)) == (
        [{"value": "Statement"}, {"index": 0}, {"key": "Principle"}],
        3,
        1,
        "INVALID_POLICY_ELEMENT",
    )
    effect = json.dumps(document({**allow(), "Effect": "Permit"}))
    assert where(only(effect))[::3] == ([{"value": "Statement"}, {"index": 0}, {"value": "Effect"}], "INVALID_EFFECT")
    no_principal = json.dumps(document(allow()))
    assert where(only(no_principal, PolicyKind.RESOURCE))[::3] == (
        [{"value": "Statement"}, {"index": 0}],
        "MISSING_PRINCIPAL",
    )
    bad_arn = json.dumps(document(allow(resource=["*", "arn:aws:*:us-east-1:111122223333:key/k"])))
    assert where(only(bad_arn))[::3] == (
        [{"value": "Statement"}, {"index": 0}, {"value": "Resource"}, {"index": 1}],
        "INVALID_SERVICE",
    )
    version = json.dumps({"Version": "2012-10-18", "Statement": [allow()]})
    assert where(only(version))[::3] == ([{"value": "Version"}], "INVALID_VERSION")


def test_a_condition_value_of_the_wrong_type_is_located() -> None:
    text = json.dumps(document(allow(Condition={"NumericLessThan": {"kms:RotationPeriodInDays": "ninety"}})))
    finding = only(text)
    path = [{"value": "Statement"}, {"index": 0}, {"value": "Condition"}]
    path += [{"value": "NumericLessThan"}, {"value": "kms:RotationPeriodInDays"}]
    assert where(finding)[::3] == (path, "TYPE_MISMATCH_NUMBER")
    assert finding["findingDetails"].startswith("The policy failed legacy parsing")


def test_documents_that_are_not_text_or_too_large() -> None:
    assert only(b"\xff\xfe{}")["issueCode"] == "JSON_SYNTAX_ERROR"
    assert only(b"\xff\xfe{}")["locations"] == []
    report = lint_policy(json.dumps(document(allow("A" * 3000))), PolicyKind.IDENTITY, limit=USER_INLINE_POLICY)
    (finding,) = report.findings
    # Access Analyzer files the size as a general warning; IAM refuses the document, so kmsd reports an error.
    assert (finding.finding_type, finding.issue_code) == (
        FindingType.ERROR,
        "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
    )


def test_a_key_policy_character_outside_latin_1_is_located() -> None:
    text = '{"Statement": [{"Sid": "caf\u00e9 \u2603", "Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}'
    assert where(only(text, PolicyKind.RESOURCE)) == ([], 1, 29, "JSON_SYNTAX_ERROR")


def test_invalid_actions_are_errors_with_a_suggestion() -> None:
    text = json.dumps(document(allow(action=["kms:Encrypt", "kms:Decrpyt", "kms:Zork*", "s3:Anything"])))
    report = lint_policy(text, PolicyKind.IDENTITY, known_actions=KNOWN)
    assert not report.refused
    assert [(finding.issue_code, finding.details) for finding in report.findings] == [
        ("INVALID_ACTION", "The action kms:Decrpyt does not exist. Did you mean kms:Decrypt?"),
        ("INVALID_ACTION", "The action kms:Zork* matches no kms action."),
    ]
    assert [finding.locations[0].path for finding in report.findings] == [
        statement_path(0, value("Action"), ("index", 1)),
        statement_path(0, value("Action"), ("index", 2)),
    ]


def test_extra_checks_run_and_a_specific_finding_replaces_a_generic_one() -> None:
    def open_key(policy: Policy) -> Iterator[Finding]:
        for statement in policy.statements:
            yield Finding(
                FindingType.SECURITY_WARNING,
                "SPECIFIC",
                "a more precise account of it",
                (statement_path(statement.index, value("Principal")),),
                "https://example.com/specific",
                supersedes=("PUBLIC_ACCESS",),
            )

    text = json.dumps(document({**allow("Open"), "Principal": "*"}))
    generic = lint_policy(text, PolicyKind.RESOURCE)
    assert [finding.issue_code for finding in generic.findings] == ["PUBLIC_ACCESS"]
    specific = lint_policy(text, PolicyKind.RESOURCE, checks=[open_key])
    assert [(finding.issue_code, finding.learn_more_link) for finding in specific.findings] == [
        ("SPECIFIC", "https://example.com/specific")
    ]


def test_findings_come_in_document_order() -> None:
    negated = {"Sid": "T", "Effect": "Allow", "NotAction": "kms:Decrypt", "Resource": "*"}
    text = json.dumps({"Statement": [allow(action=["kms:Encrypt", "kms:Encrypt"]), negated]})
    report = lint_policy(text, PolicyKind.IDENTITY)
    offsets = [finding.locations[0].span.start.offset for finding in report.findings]
    assert offsets == sorted(offsets)
    assert [finding.issue_code for finding in report.findings] == [
        "MISSING_VERSION",
        "REDUNDANT_ACTION",
        "ALLOW_WITH_NOT_ACTION",
    ]
    assert report.worst() is FindingType.SECURITY_WARNING
    assert lint_policy(json.dumps(document(allow())), PolicyKind.IDENTITY).worst() is None


@pytest.fixture(scope="module")
def validate_policy_shapes() -> Any:
    return botocore.session.get_session().get_service_model("accessanalyzer")


def test_the_report_is_a_validate_policy_response(validate_policy_shapes: Any) -> None:
    text = json.dumps({"Statement": [{**allow("Open"), "Principal": "*", "Action": ["kms:Encrypt", "kms:Encrypt"]}]})
    response = lint_policy(text, PolicyKind.RESOURCE).to_json()
    output = validate_policy_shapes.operation_model("ValidatePolicy").output_shape
    finding_shape = output.members["findings"].member
    assert set(response) <= set(output.members) and set(output.required_members) <= set(response)
    assert len(response["findings"]) == 3
    for finding in response["findings"]:
        assert set(finding) == set(finding_shape.members) == set(finding_shape.required_members)
        assert finding["findingType"] in finding_shape.members["findingType"].enum
        for location in finding["locations"]:
            location_shape = finding_shape.members["locations"].member
            assert set(location) == set(location_shape.required_members)
            element_shape = location_shape.members["path"].member
            assert all(len(element) == 1 and set(element) <= set(element_shape.members) for element in location["path"])
            span_shape = location_shape.members["span"]
            for end in ("start", "end"):
                assert set(location["span"][end]) == set(span_shape.members[end].required_members)
