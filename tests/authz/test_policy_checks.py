"""KMS's checks of `kmsd policy check`: condition keys, open decryption, a Resource-less statement, the lockout
safety check and the delegation to IAM, each against the tables and the authorizer the live server uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from kmsd.authz.policy_checks import (
    DEFAULT_ACCOUNT,
    delegation_check,
    lockout_check,
    offline_checks,
    policy_account,
)
from kmsd.authz.request_context import DEPRECATED_KEYS
from kmsd.clock import ManualClock
from kmsd.policy import PolicyKind, parse_policy
from kmsd.policy.findings import FindingType
from kmsd.policy.lint import LintReport, PolicyCheck, lint_policy
from kmsd.policy.locations import index, statement_path, value
from kmsd.store.sqlite import SqliteStore
from tests.authz.conftest import A, B, World, allow, default_policy, key_statement, policy, root_arn

KEY_ARN = f"arn:aws:kms:us-west-2:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def lint(document: dict[str, Any], *, key_policy: bool = True, checks: Sequence[PolicyCheck] = ()) -> LintReport:
    kind = PolicyKind.RESOURCE if key_policy else PolicyKind.IDENTITY
    return lint_policy(json.dumps(document), kind, checks=[*offline_checks(key_policy), *checks])


def codes(report: LintReport) -> list[tuple[FindingType, str]]:
    return [(finding.finding_type, finding.issue_code) for finding in report.findings]


def when(action: str | list[str], condition: dict[str, Any], principal: str = root_arn()) -> dict[str, Any]:
    return policy(key_statement(principal, action, Condition=condition))


# --- condition keys ------------------------------------------------------------------------------------


def test_an_unknown_kms_condition_key_is_an_error() -> None:
    report = lint(when("kms:Decrypt", {"StringEquals": {"kms:EncryptionContxt:app": "x"}}))
    assert codes(report) == [(FindingType.ERROR, "INVALID_SERVICE_CONDITION_KEY")]
    (finding,) = report.findings
    assert finding.details == "The condition key kms:EncryptionContxt:app does not exist in the service kms."
    assert finding.locations[0].path == statement_path(
        0, value("Condition"), value("StringEquals"), value("kms:EncryptionContxt:app")
    )
    # In identity policies too: the key names no key KMS sets.
    identity = policy(allow("kms:Decrypt", Condition={"Bool": {"kms:Bogus": "true"}}))
    assert codes(lint(identity, key_policy=False)) == [(FindingType.ERROR, "INVALID_SERVICE_CONDITION_KEY")]


@pytest.mark.parametrize(
    "key",
    [
        "kms:EncryptionContext:app",
        "KMS:encryptioncontextkeys",
        "kms:ViaService",
        "kms:CallerAccount",
        "kms:RecipientAttestation:PCR7",
        "kms:RecipientAttestation:ImageSha384",
        *DEPRECATED_KEYS,
    ],
)
def test_the_keys_kms_defines_are_known(key: str) -> None:
    report = lint(when("kms:Decrypt", {"StringLike": {key: "*"}}))
    kms_codes = {"INVALID_SERVICE_CONDITION_KEY", "KMS_CONDITION_KEY_NOT_IN_REQUEST"}
    assert [code for _, code in codes(report) if code in kms_codes] == []


def test_a_key_the_statements_actions_never_carry() -> None:
    # kms:EncryptionContext:* exists, but CreateKey's request has no encryption context.
    report = lint(
        policy(allow("kms:CreateKey", Condition={"StringEquals": {"kms:EncryptionContext:app": "x"}})), key_policy=False
    )
    assert codes(report) == [(FindingType.WARNING, "KMS_CONDITION_KEY_NOT_IN_REQUEST")]
    assert report.findings[0].details == (
        "No action of this statement has kms:EncryptionContext:app in its request context: StringEquals is false "
        "without it, so the condition never matches."
    )
    negated = policy(allow("kms:CreateKey", Condition={"StringNotEquals": {"kms:EncryptionContext:app": "x"}}))
    assert "always true without it" in lint(negated, key_policy=False).findings[0].details
    # One action that carries the key is enough; so are wildcards, and a non-KMS action makes it unknowable.
    for actions in (["kms:CreateKey", "kms:Decrypt"], "kms:*", "kms:Gen*", ["kms:CreateKey", "s3:GetObject"]):
        mixed = policy(allow(actions, Condition={"StringEquals": {"kms:EncryptionContext:app": "x"}}))
        assert codes(lint(mixed, key_policy=False)) == []
    tags = policy(allow("kms:Encrypt", Condition={"StringEquals": {"aws:RequestTag/team": "x"}}))
    assert codes(lint(tags, key_policy=False)) == [(FindingType.WARNING, "KMS_CONDITION_KEY_NOT_IN_REQUEST")]


def test_iam_only_keys_never_reach_a_key_policy() -> None:
    # "kms:ResourceAliases ... You can use this condition key only in IAM policies."
    document = when("kms:Decrypt", {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/app-*"}})
    report = lint(document)
    assert codes(report) == [(FindingType.WARNING, "KMS_CONDITION_KEY_NOT_IN_REQUEST")]
    assert report.findings[0].details.startswith("KMS supplies kms:ResourceAliases to IAM policies only")
    tagged = when("kms:Decrypt", {"StringEquals": {"aws:ResourceTag/team": "x"}})
    assert codes(lint(tagged)) == [(FindingType.WARNING, "KMS_CONDITION_KEY_NOT_IN_REQUEST")]
    identity = policy(allow("kms:Decrypt", Condition={"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/a"}}))
    assert codes(lint(identity, key_policy=False)) == []


@pytest.mark.parametrize(
    ("operator", "values", "never"),
    [
        ("StringEquals", "ENCRYPT", True),
        ("StringEquals", "encrypt_decrypt", True),  # StringEquals is case-sensitive
        ("StringEquals", ["ENCRYPT", "SIGN_VERIFY"], False),
        ("StringEqualsIgnoreCase", "encrypt_decrypt", False),
        ("StringLike", "SIGN*", False),
        ("StringLike", "SIGNING*", True),
        ("StringNotEquals", "ENCRYPT", False),
        ("StringEqualsIfExists", "ENCRYPT", False),
        ("StringEquals", "${aws:PrincipalTag/usage}", False),
    ],
)
def test_enumerated_kms_keys_take_only_kms_values(operator: str, values: Any, never: bool) -> None:
    document = policy(allow("kms:CreateKey", Condition={operator: {"kms:KeyUsage": values}}))
    found = [code for _, code in codes(lint(document, key_policy=False))]
    assert ("CONDITION_NEVER_MATCHES" in found) is never


def test_a_key_spec_kms_does_not_have() -> None:
    spec = policy(allow("kms:CreateKey", Condition={"StringEquals": {"kms:KeySpec": "RSA_1024"}}))
    report = lint(spec, key_policy=False)
    assert codes(report) == [(FindingType.WARNING, "CONDITION_NEVER_MATCHES")]
    assert report.findings[0].details.startswith("No value of StringEquals is one KMS gives kms:KeySpec (")
    assert "RSA_2048" in report.findings[0].details
    algorithm = policy(allow("kms:Encrypt", Condition={"StringEquals": {"kms:EncryptionAlgorithm": "AES_256"}}))
    assert codes(lint(algorithm, key_policy=False)) == [(FindingType.WARNING, "CONDITION_NEVER_MATCHES")]


# --- key policies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": [root_arn(), "*"]}])
@pytest.mark.parametrize(
    "action", ["kms:*", "kms:Decrypt", "kms:ReEncrypt*", "kms:Re*", "*", ["kms:Encrypt", "kms:De*"]]
)
def test_decryption_open_to_every_principal(principal: Any, action: Any) -> None:
    statement = {"Sid": "Open", "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}
    report = lint(policy(key_statement(root_arn()), statement))
    assert codes(report) == [(FindingType.SECURITY_WARNING, "KMS_DECRYPT_BY_ANY_PRINCIPAL")]  # not also PUBLIC_ACCESS
    paths = [location.path[2:] for location in report.findings[0].locations]
    assert paths[0] == (value("Principal"),)
    assert paths[1][0] == value("Action")


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Principal": "*", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": root_arn()}, "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": A}},
        },
        {"Effect": "Allow", "Principal": "*", "NotAction": ["kms:Decrypt", "kms:ReEncrypt*"], "Resource": "*"},
    ],
)
def test_statements_that_do_not_open_decryption(statement: dict[str, Any]) -> None:
    found = [code for _, code in codes(lint(policy(key_statement(root_arn()), statement)))]
    assert "KMS_DECRYPT_BY_ANY_PRINCIPAL" not in found


def test_not_action_that_leaves_decrypt_in_is_open_decryption() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"}
    report = lint(policy(key_statement(root_arn()), statement))
    assert (FindingType.SECURITY_WARNING, "KMS_DECRYPT_BY_ANY_PRINCIPAL") in codes(report)
    (finding,) = [finding for finding in report.findings if finding.issue_code == "KMS_DECRYPT_BY_ANY_PRINCIPAL"]
    assert finding.locations[1].path == statement_path(1, value("NotAction"))


def test_a_key_policy_statement_needs_a_resource() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": root_arn()}, "Action": "kms:*"}
    report = lint(policy(statement))
    assert codes(report) == [(FindingType.ERROR, "MISSING_RESOURCE")]
    assert codes(lint_policy(json.dumps(policy(statement)), PolicyKind.RESOURCE)) == []  # a resource policy may


def test_not_principal_with_allow_in_a_key_policy() -> None:
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": root_arn(B)}, "Action": "kms:Encrypt", "Resource": "*"}
    report = lint(policy(key_statement(root_arn()), statement))
    assert codes(report) == [(FindingType.SECURITY_WARNING, "ALLOW_WITH_NOT_PRINCIPAL")]


# --- the lockout safety check -----------------------------------------------------------------------------


def test_the_account_a_key_policy_is_for() -> None:
    document = parse_policy(json.dumps(policy(key_statement([f"arn:aws:iam::{B}:user/u", A]))), PolicyKind.RESOURCE)
    assert policy_account(document, None, None) == B
    assert policy_account(document, A, None) == A
    assert policy_account(document, f"arn:aws:iam::{A}:user/u", KEY_ARN.replace(A, "999988887777")) == "999988887777"
    services = policy(
        {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}
    )
    assert policy_account(parse_policy(json.dumps(services), PolicyKind.RESOURCE), None, None) == DEFAULT_ACCOUNT


def test_lockout_offline_for_the_account_root(tmp_path: Any) -> None:
    clock = ManualClock()
    scratch = SqliteStore(tmp_path / "scratch.db")
    try:
        check = lockout_check(scratch, clock, scratch=True)
        assert codes(lint(default_policy(), checks=[check])) == []
        # kms:PutKeyPolicy is not among what the account may delegate: the root could never change the policy.
        narrow = policy(key_statement(root_arn(), ["kms:Encrypt", "kms:Decrypt"]))
        report = lint(narrow, checks=[check])
        assert codes(report) == [(FindingType.ERROR, "KMS_KEY_POLICY_LOCKOUT")]
        assert report.findings[0].details.startswith(
            f"The new key policy will not allow you to update the key policy in the future. {root_arn()} could "
            "not call kms:PutKeyPolicy"
        )
        # A policy that names only another account locks this account's root out.
        other = lockout_check(scratch, clock, principal=A, scratch=True)
        assert codes(lint(default_policy(B), checks=[other])) == [(FindingType.ERROR, "KMS_KEY_POLICY_LOCKOUT")]
    finally:
        scratch.close()


def test_lockout_for_an_iam_principal_reads_its_identity_policies(world: World) -> None:
    admin = world.user("lint-admin", allow("kms:PutKeyPolicy"))
    reader = world.user("lint-reader", allow("kms:Decrypt"))
    delegating = lint(default_policy(), checks=[lockout_check(world.store, world.clock, principal=admin.principal.arn)])
    assert codes(delegating) == []
    # The key policy delegates to IAM, and the reader's IAM policy does not allow kms:PutKeyPolicy.
    reader_check = lockout_check(world.store, world.clock, principal=reader.principal.arn)
    assert codes(lint(default_policy(), checks=[reader_check])) == [(FindingType.ERROR, "KMS_KEY_POLICY_LOCKOUT")]
    # Named in the key policy itself, the reader needs no IAM policy.
    direct = policy(key_statement(root_arn(), "kms:Encrypt"), key_statement(reader.principal.arn, "kms:*"))
    assert codes(lint(direct, checks=[reader_check])) == []


# --- delegation to IAM ------------------------------------------------------------------------------------


def test_identity_policies_that_name_the_key_need_the_key_policy_to_delegate(world: World) -> None:
    world.user("lint-app", allow(["kms:Encrypt", "kms:Decrypt"], KEY_ARN))
    world.user("lint-wide", allow("kms:*"))  # Resource "*": names no key, not reported
    check = delegation_check(world.store, key_arn=KEY_ARN)
    assert codes(lint(default_policy(), checks=[check])) == []
    admins_only = policy(key_statement(f"arn:aws:iam::{A}:user/lint-admin"))
    report = lint(admins_only, checks=[check])
    assert codes(report) == [(FindingType.WARNING, "KMS_MISSING_IAM_DELEGATION")]
    details = report.findings[0].details
    assert details.startswith(f"Identity policies of account {A} allow kms:decrypt, kms:encrypt on this key (")
    assert f"arn:aws:iam::{A}:user/lint-app#inline" in details and "lint-wide" not in details
    # Delegating only some of the actions used still leaves the others without effect.
    partly = policy(key_statement(A, "kms:Encrypt"))
    assert "allow kms:decrypt on this key" in lint(partly, checks=[check]).findings[0].details
    # Another key of the account is not this one.
    other_key = delegation_check(world.store, key_arn=KEY_ARN.replace("1234abcd", "99999999"))
    assert codes(lint(admins_only, checks=[other_key])) == []
    # Without a key ARN, any identity statement that names a KMS key of the account counts.
    unnamed = delegation_check(world.store, principal=A)
    assert codes(lint(admins_only, checks=[unnamed])) == [(FindingType.WARNING, "KMS_MISSING_IAM_DELEGATION")]


def test_group_and_role_policies_count_too(world: World) -> None:
    key = KEY_ARN.replace("1234abcd", "abababab")
    world.iam("CreateGroup", GroupName="lint-group")
    document = json.dumps(policy(allow("kms:Sign", f"arn:aws:kms:*:{A}:key/abababab-*")))
    world.iam("PutGroupPolicy", GroupName="lint-group", PolicyName="sign", PolicyDocument=document)
    world.role_session("lint-role", allow("kms:Verify", key))
    report = lint(
        policy(key_statement(f"arn:aws:iam::{A}:user/nobody-else")), checks=[delegation_check(world.store, key_arn=key)]
    )
    (finding,) = report.findings
    assert finding.details.startswith(f"Identity policies of account {A} allow kms:sign, kms:verify on this key")
    assert "group/lint-group#sign" in finding.details and "role/lint-role#inline" in finding.details
    assert finding.locations[0].path == (value("Statement"),)
    assert index(0) not in finding.locations[0].path
