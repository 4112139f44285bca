"""Parsing and validation: AWS's MalformedPolicyDocument reasons, each element's rules, size limits, caching."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsd.policy import (
    Effect,
    PolicyKind,
    PolicySizeError,
    PolicyValidationError,
    Principals,
    parse_policy,
)
from kmsd.policy.limits import (
    KEY_POLICY,
    MANAGED_POLICY,
    ROLE_INLINE_POLICY,
    SESSION_POLICY,
    USER_INLINE_POLICY,
    size_limit_for,
)
from tests.policy.helpers import allow, document

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"


def refused(doc: Any, kind: PolicyKind = PolicyKind.IDENTITY) -> PolicyValidationError:
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy(doc if isinstance(doc, str | bytes) else json.dumps(doc), kind)
    return raised.value


def test_a_key_policy_parses_into_typed_statements() -> None:
    policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        PolicyKind.RESOURCE,
    )
    (statement,) = policy.statements
    assert policy.policy_id == "key-default-1"  # the document's Id when no policy_id is given
    assert policy.version == "2012-10-17"
    assert statement.sid == "Enable IAM User Permissions"
    assert statement.effect is Effect.ALLOW
    assert statement.principal == Principals(entries=(("AWS", ("arn:aws:iam::111122223333:root",)),))
    assert statement.action == ("kms:*",)
    assert statement.resource == ("*",)


def test_single_values_and_lists_parse_alike() -> None:
    single = parse_policy(document(allow(action="kms:Encrypt", resource="*")), PolicyKind.IDENTITY)
    listed = parse_policy(document(allow(action=["kms:Encrypt"], resource=["*"])), PolicyKind.IDENTITY)
    assert single.document == listed.document


def test_statement_may_be_a_single_object() -> None:
    policy = parse_policy({"Version": "2012-10-17", "Statement": allow()}, PolicyKind.IDENTITY)
    assert len(policy.statements) == 1


def test_missing_version_means_2008_10_17() -> None:
    # "If you do not include a Version element, the value defaults to 2008-10-17" (IAM JSON policy elements: Version)
    policy = parse_policy({"Statement": [allow()]}, PolicyKind.IDENTITY)
    assert policy.version == "2008-10-17"


def test_policy_id_argument_names_statements() -> None:
    policy = parse_policy(document(allow("S1"), allow("", action="kms:Decrypt")), PolicyKind.IDENTITY, "p1")
    assert [policy.statement_id(s) for s in policy.statements] == ["p1:S1", "p1:"]
    unnamed = parse_policy(document({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}), PolicyKind.IDENTITY)
    assert unnamed.policy_id == "identity"
    assert unnamed.statement_id(unnamed.statements[0]) == "identity:#0"


@pytest.mark.parametrize(
    ("doc", "detail"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ({"Version": "2012-10-17"}, "missing `Statement`"),
        ({"Version": "2012-10-17", "Statement": []}, "empty list"),
        ({"Version": "2012-10-17", "Statement": "x"}, "object or a list"),
        ({"Version": "2012-10-17", "Statement": [allow()], "Extra": 1}, "unknown element `Extra`"),
        (document({**allow(), "Condtion": {}}), "unknown element `Condtion`"),
        ({"Version": "2012-10-18", "Statement": [allow()]}, "`Version`"),
        ({"Version": "2012-10-17", "Id": 7, "Statement": [allow()]}, "`Id` must be a string"),
        (document({"Action": "kms:*", "Resource": "*"}), "missing `Effect`"),
        (document({**allow(), "Effect": 1}), "`Effect` in statement 0 must be a string"),
        (document({**allow(), "Sid": 5}), "`Sid`"),
        (document(allow(action={"a": 1})), "`Action`"),
        (document(allow(action=["kms:Encrypt", 3])), "`Action`"),
        (document(allow(resource=None)), "`Resource`"),
        (document({**allow(), "NotAction": "kms:Decrypt"}), "both `Action` and `NotAction`"),
        (document({**allow(), "NotResource": "*"}), "both `Resource` and `NotResource`"),
        (document(allow(Condition=[])), "`Condition`"),
        (document(allow(Condition={"StringEquals": "x"})), "must map condition keys"),
        (document(allow(Condition={"StringEquals": {"aws:username": []}})), "empty list of values"),
        (document(allow(Condition={"StringEquals": {"aws:username": {"a": "b"}}})), "values must be"),
        (document(allow(Condition={"StringEquals": {"aws:username": None}})), "values must be"),
        (document(allow(Condition={"StringEqualz": {"aws:username": "a"}})), "unknown condition operator"),
        (document(allow(Condition={"NullIfExists": {"aws:username": "true"}})), "unknown condition operator"),
        (document(allow(Condition={"stringequals": {"aws:username": "a"}})), "unknown condition operator"),
        ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', "duplicate key `Version`"),
        ('{"Statement": [{"Effect": "Allow", "Action": NaN, "Resource": "*"}]}', "`NaN` is not a JSON value"),
    ],
)
def test_syntax_errors_name_the_element(doc: Any, detail: str) -> None:
    error = refused(doc)
    assert error.message == SYNTAX
    assert detail in error.detail
    assert detail in str(error)


def test_invalid_utf8_and_other_types_are_syntax_errors() -> None:
    assert refused(b'{"Statement": "\xff"}').message == SYNTAX
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy(12, PolicyKind.IDENTITY)  # type: ignore[arg-type]
    assert raised.value.message == SYNTAX
    with pytest.raises(PolicyValidationError):
        parse_policy({"Statement": [allow(resource={1, 2})]}, PolicyKind.IDENTITY)  # not JSON serializable


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    assert refused("[" * 10_000 + "]" * 10_000, PolicyKind.RESOURCE).message == SYNTAX


def test_effect_must_be_spelled_exactly() -> None:
    error = refused(document({**allow(), "Effect": "allow"}))
    assert error.message == LEGACY
    assert "`Effect`" in error.detail


def test_sids_must_be_unique() -> None:
    error = refused(document(allow("Same"), allow("Same", action="kms:Decrypt")))
    assert error.message == "Statement IDs (SID) in a single policy must be unique."


def test_iam_sids_are_alphanumeric_but_key_policy_sids_may_hold_spaces() -> None:
    error = refused(document(allow("Has space")))
    assert error.message.startswith("Statement IDs (SID) must be alpha-numeric.")
    key_statement = {**allow("Allow use of the key"), "Principal": {"AWS": "111122223333"}}
    assert parse_policy(document(key_statement), PolicyKind.RESOURCE).statements[0].sid == "Allow use of the key"


def test_statements_need_actions() -> None:
    assert refused(document({"Effect": "Allow", "Resource": "*"})).message == "Policy statement must contain actions."
    assert refused(document(allow(action=[]))).message == "Policy statement must contain actions."


def test_identity_statements_need_resources() -> None:
    message = "Policy statement must contain resources."
    assert refused(document({"Effect": "Allow", "Action": "kms:*"})).message == message
    assert refused(document(allow(resource=[]))).message == message


def test_resource_policy_statements_may_omit_resource() -> None:
    # Role trust policies never carry Resource; the statement covers the resource the policy is attached to.
    trust = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert parse_policy(document(trust), PolicyKind.RESOURCE).statements[0].resource is None


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("Encrypt", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        ("kms:Encrypt:More", "Actions/Condition can contain only one colon."),
        ("km s:Encrypt", "Vendor km s is not valid"),
        ("km*:Encrypt", "Vendor km* is not valid"),
    ],
)
def test_action_format(action: str, message: str) -> None:
    assert refused(document(allow(action=action))).message == message


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("key/1234", 'Resource key/1234 must be in ARN format or "*".'),
        ("arn:awz:kms:us-east-1:111122223333:key/1", 'Partition "awz" is not valid for resource'),
        ("arn:aws", "Resource vendor must be fully qualified and cannot contain regexes."),
        ("arn:aws:*:us-east-1:111122223333:key/1", "Resource vendor must be fully qualified"),
        ("arn:aws:s3::bucket", LEGACY),
    ],
)
def test_resource_format(resource: str, message: str) -> None:
    assert refused(document(allow(resource=resource))).message.startswith(message)


def test_short_arns_are_accepted() -> None:
    policy = parse_policy(document(allow(resource="arn:aws:sns:*")), PolicyKind.IDENTITY)
    assert policy.statements[0].resource == ("arn:aws:sns:*",)


def test_identity_policies_must_not_name_principals() -> None:
    for kind in (PolicyKind.IDENTITY, PolicyKind.PERMISSIONS_BOUNDARY, PolicyKind.SESSION):
        error = refused(document({**allow(), "Principal": "*"}), kind)
        assert error.message == "Has prohibited field Principal"
        assert refused(document({**allow(), "NotPrincipal": "*"}), kind).message == "Has prohibited field NotPrincipal"


def test_resource_policies_need_a_principal_in_every_statement() -> None:
    named = {**allow("A"), "Principal": "*"}
    error = refused(document(named, allow("B")), PolicyKind.RESOURCE)
    assert error.message == "Missing required field Principal"
    assert "statement B" in error.detail


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::111122223333:user/alice",
        {"AWS": "arn:aws:iam::111122223333:user/*"},
        {"AWS": "alice"},
        {"AWS": "11112222333"},
        {"AWS": []},
        {"Service": "*"},
        {"Group": "admins"},
        {},
    ],
)
def test_invalid_principals(principal: Any) -> None:
    statement = {**allow(), "Principal": principal}
    assert refused(document(statement), PolicyKind.RESOURCE).message.startswith("Invalid principal in policy")


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": "111122223333"},
        {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/path/alice"]},
        {"AWS": "arn:aws:iam::111122223333:role/service-role/App"},
        {"AWS": "arn:aws:sts::111122223333:assumed-role/App/session"},
        {"AWS": "arn:aws:sts::111122223333:federated-user/bob"},
        {"Service": ["kms.amazonaws.com", "cloudtrail.amazonaws.com"]},
        {"Federated": "arn:aws:iam::111122223333:saml-provider/Corp"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    ],
)
def test_valid_principals(principal: Any) -> None:
    parse_policy(document({**allow(), "Principal": principal}), PolicyKind.RESOURCE)


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("NumericLessThan", "ten"),
        ("NumericLessThan", "${aws:MultiFactorAuthAge}"),
        ("DateGreaterThan", "2020-13-01T00:00:00Z"),
        ("DateGreaterThan", "yesterday"),
        ("IpAddress", "300.0.0.1/8"),
        ("BinaryEquals", "not base64!"),
        ("Null", "maybe"),
    ],
)
def test_condition_values_of_the_wrong_type(operator: str, value: str) -> None:
    error = refused(document(allow(Condition={operator: {"aws:SomeKey": value}})))
    assert error.message == LEGACY
    assert operator in error.detail


def test_key_policies_allow_only_printable_latin1_and_tab_lf_cr() -> None:
    statement = {**allow("Café\tß"), "Principal": "*"}
    parse_policy(json.dumps(document(statement), ensure_ascii=False), PolicyKind.RESOURCE)
    for char in ("\u20ac", "\u4e2d", "\x7f"):
        text = json.dumps(document({**allow(f"x{char}"), "Principal": "*"}), ensure_ascii=False)
        error = refused(text, PolicyKind.RESOURCE)
        assert f"U+{ord(char):04X}" in error.detail
    bell = json.dumps(document({**allow(), "Principal": "*"})).replace(",", ",\x07", 1)
    assert "U+0007" in refused(bell, PolicyKind.RESOURCE).detail
    # Identity policies are not held to the key policy character set.
    parse_policy(json.dumps(document(allow(resource="arn:aws:s3:::b/\u20ac")), ensure_ascii=False), PolicyKind.IDENTITY)


def _padded(size: int, statement: dict[str, Any]) -> str:
    """A document of exactly ``size`` characters, padded with spaces."""
    base = json.dumps(document(statement), separators=(",", ":"))
    return base[:-1] + " " * (size - len(base)) + "}"


def test_key_policy_limit_is_32768_bytes_whitespace_included() -> None:
    key_statement = {**allow(), "Principal": "*"}
    parse_policy(_padded(32_768, key_statement), PolicyKind.RESOURCE)
    with pytest.raises(PolicySizeError) as raised:
        parse_policy(_padded(32_769, key_statement), PolicyKind.RESOURCE)
    assert raised.value.limit == 32_768
    assert raised.value.size == 32_769
    assert isinstance(raised.value, PolicyValidationError)


def test_iam_limits_ignore_whitespace() -> None:
    spacious = _padded(50_000, allow())
    parse_policy(spacious, PolicyKind.PERMISSIONS_BOUNDARY)  # far over 6,144 characters, mostly spaces
    long_sid = json.dumps(document(allow("A" * 6_100)), separators=(",", ":"))
    with pytest.raises(PolicySizeError) as raised:
        parse_policy(long_sid, PolicyKind.IDENTITY)
    assert raised.value.message == "Cannot exceed quota for PolicySize: 6144"


@pytest.mark.parametrize(
    ("limit", "characters"),
    [(USER_INLINE_POLICY, 2_048), (ROLE_INLINE_POLICY, 10_240), (SESSION_POLICY, 2_048), (MANAGED_POLICY, 6_144)],
)
def test_per_kind_limits(limit: Any, characters: int) -> None:
    def sized(count: int) -> str:
        base = len(json.dumps(document(allow("")), separators=(",", ":")))
        return json.dumps(document(allow("A" * (count - base))), separators=(",", ":"))

    assert len(sized(characters)) == characters
    parse_policy(sized(characters), PolicyKind.IDENTITY, max_size=limit)
    with pytest.raises(PolicySizeError):
        parse_policy(sized(characters + 1), PolicyKind.IDENTITY, max_size=limit)


def test_default_limits_per_kind() -> None:
    assert size_limit_for(PolicyKind.RESOURCE) is KEY_POLICY
    assert size_limit_for(PolicyKind.IDENTITY) is MANAGED_POLICY
    assert size_limit_for(PolicyKind.PERMISSIONS_BOUNDARY) is MANAGED_POLICY
    assert size_limit_for(PolicyKind.SESSION) is SESSION_POLICY


def test_documents_are_compiled_once_and_shared_across_policy_ids() -> None:
    text = json.dumps(document(allow()))
    first = parse_policy(text, PolicyKind.IDENTITY, "a")
    second = parse_policy(text.encode(), PolicyKind.IDENTITY, "b")
    assert first.compiled is second.compiled
    assert first.policy_id == "a" and second.policy_id == "b"
    assert first != second  # the id is part of the policy
    assert parse_policy(text, PolicyKind.SESSION).compiled is not first.compiled


def test_serialize_round_trips() -> None:
    original = parse_policy(
        {
            "Version": "2012-10-17",
            "Id": "doc",
            "Statement": [
                {
                    "Sid": "Keys",
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:user/a"]},
                    "NotAction": ["kms:Decrypt", "kms:Encrypt"],
                    "NotResource": "arn:aws:kms:*:111122223333:key/*",
                    "Condition": {
                        "NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 10},
                        "Bool": {"aws:SecureTransport": False},
                        "ForAnyValue:StringLike": {"kms:ResourceAliases": ["alias/a*", "alias/b?"]},
                    },
                }
            ],
        },
        PolicyKind.RESOURCE,
        "kp",
    )
    again = parse_policy(original.serialize(), PolicyKind.RESOURCE, "kp")
    assert again == original
    assert json.loads(original.serialize())["Statement"][0]["Condition"]["Bool"] == {"aws:SecureTransport": "false"}
