"""Wildcards, actions, ARN segments and principals: the matching primitives and their edges."""

from __future__ import annotations

import pytest

from kmsd.policy import AllowVia, PolicyKind, PrincipalInfo, Principals, parse_policy
from kmsd.policy.arn import arn_matcher, split_arn
from kmsd.policy.compiled import compiled_of
from kmsd.policy.principals import compile_principals
from kmsd.policy.wildcard import QUESTION, STAR, compile_tokens, tokens_from_text
from tests.policy.helpers import ACCOUNT, ALICE, CAROL, ROOT, SESSION, allow, decide, document, identity, request


def matches(pattern: str, subject: str, *, ignore_case: bool = False) -> bool:
    return compile_tokens(tokens_from_text(pattern), ignore_case=ignore_case)(subject)


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("", "", True),
        ("", "a", False),
        ("*", "", True),
        ("*", "anything/at:all", True),
        ("a*", "a", True),
        ("a*", "ba", False),
        ("*a", "ba", True),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?c", "abbc", False),
        ("??", "ab", True),
        ("*?*", "", False),
        ("a**b", "ab", True),
        ("[ab]", "[ab]", True),  # brackets are literal in IAM, unlike fnmatch
        ("[ab]", "a", False),
        ("a.c", "abc", False),  # regex metacharacters are literal too
        ("a+", "aa", False),
        ("line*", "line1\nline2", True),
    ],
)
def test_wildcards(pattern: str, subject: str, expected: bool) -> None:
    assert matches(pattern, subject) is expected


def test_tokens_keep_wildcards_apart_from_text() -> None:
    assert tokens_from_text("a*b?") == ("a", STAR, "b", QUESTION)
    # A literal asterisk (from ${*} or a variable's value) is text, not a wildcard.
    assert compile_tokens(("a", "*", "b"))("a*b")
    assert not compile_tokens(("a", "*", "b"))("axb")


def test_ignore_case_folds_the_pattern() -> None:
    assert matches("KMS:Get*", "kms:getkeypolicy", ignore_case=True)


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("kms:Encrypt", "kms:Encrypt", True),
        ("kms:encrypt", "kms:Encrypt", True),  # action names are case-insensitive
        ("KMS:ENCRYPT", "kms:encrypt", True),
        ("kms:*", "kms:Encrypt", True),
        ("kms:Get*", "kms:GetKeyPolicy", True),
        ("kms:Get*", "kms:GenerateDataKey", False),
        ("kms:Generate*", "kms:GenerateDataKeyWithoutPlaintext", True),
        ("kms:*Key", "kms:CreateKey", True),
        ("kms:?ncrypt", "kms:Encrypt", True),
        ("kms:ReEncrypt*", "kms:ReEncryptFrom", True),
        ("*", "iam:CreateUser", True),
        ("kms:*", "iam:CreateUser", False),
        ("kms:Encrypt", "kms:EncryptX", False),
    ],
)
def test_action_matching(pattern: str, action: str, expected: bool) -> None:
    policy = identity(allow(action=pattern))
    assert decide([policy], request(action=action)).allowed is expected


def test_not_action_applies_to_every_other_action() -> None:
    policy = identity({"Sid": "S", "Effect": "Allow", "NotAction": "kms:Decrypt", "Resource": "*"})
    assert decide([policy], request(action="kms:Encrypt")).allowed
    assert not decide([policy], request(action="kms:decrypt")).allowed


KEY = "arn:aws:kms:us-east-1:111122223333:key/1234"


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", KEY, True),
        (KEY, KEY, True),
        ("arn:aws:kms:us-east-1:111122223333:key/*", KEY, True),
        ("arn:aws:kms:*:111122223333:key/*", KEY, True),
        ("arn:aws:kms:*:*:*", KEY, True),
        ("arn:aws:kms:us-east-?:111122223333:key/1234", KEY, True),
        ("arn:aws:kms:us-east-1:111122223333:KEY/1234", KEY, False),  # the resource part is case-sensitive
        ("arn:aws:kms:us-east-1:111122223333:key/12", KEY, False),
        # A wildcard stays inside its segment: * in region does not swallow the account.
        ("arn:aws:kms:*:key/1234", KEY, False),
        ("arn:aws:kms:*", KEY, True),  # missing components count as *
        ("arn:aws:kms:us-east-1:111122223333:*", KEY, True),
        ("arn:aws:kms:us-east-1:111122223333:key*", KEY, True),  # * spans / in the resource part
        ("arn:aws:kms:us-east-1:111122223333:alias/*", KEY, False),
        ("arn:aws:kms:us-west-2:111122223333:key/*", KEY, False),
        ("arn:aws:kms:us-east-1:444455556666:key/*", KEY, False),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", True),  # : inside the resource part is just text
        ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
        ("arn:aws:s3:::*", "arn:aws:s3:::bucket", True),
        ("arn:aws:kms:us-east-1:111122223333:key/*", "*", False),  # a `*` request resource is not an ARN
        ("*", "*", True),
    ],
)
def test_resource_matching(pattern: str, resource: str, expected: bool) -> None:
    policy = identity(allow(resource=pattern))
    assert decide([policy], request(resource=resource)).allowed is expected


def test_not_resource() -> None:
    policy = identity(
        {"Sid": "S", "Effect": "Allow", "Action": "kms:*", "NotResource": "arn:aws:kms:*:111122223333:key/secret-*"}
    )
    assert decide([policy], request(resource=KEY)).allowed
    assert not decide([policy], request(resource="arn:aws:kms:us-east-1:111122223333:key/secret-1")).allowed


def test_arn_segments_split_at_the_first_five_colons() -> None:
    assert split_arn("arn:aws:s3:::b/x:y") == ("arn", "aws", "s3", "", "", "b/x:y")
    assert split_arn("not-an-arn") is None
    assert split_arn("arx:aws:s3:::b") is None
    assert arn_matcher(tokens_from_text("arn:aws:s3:::b/*")).matches("arn:aws:s3:::b/x", split_arn("arn:aws:s3:::b/x"))


def via(principal_element: object, caller: PrincipalInfo) -> AllowVia | None:
    statement = {**allow(), "Principal": principal_element}
    policy = parse_policy(document(statement), PolicyKind.RESOURCE)
    compiled = compiled_of(policy).statements[0].principals
    assert compiled is not None
    return compiled.match(caller)


def test_account_id_and_root_arn_both_name_the_account() -> None:
    for element in ({"AWS": ACCOUNT}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}):
        assert via(element, ALICE) is AllowVia.ACCOUNT
        assert via(element, SESSION) is AllowVia.ACCOUNT
        assert via(element, ROOT) is AllowVia.PRINCIPAL  # the root user is the account itself
        assert via(element, CAROL) is None


def test_users_roles_and_sessions() -> None:
    assert via({"AWS": ALICE.arn}, ALICE) is AllowVia.PRINCIPAL
    assert via({"AWS": "arn:aws:iam::111122223333:user/Alice"}, ALICE) is None  # user names are case-sensitive
    assert via({"AWS": SESSION.arn}, SESSION) is AllowVia.PRINCIPAL
    assert via({"AWS": SESSION.role_arn}, SESSION) is AllowVia.ROLE
    assert via({"AWS": "arn:aws:iam::111122223333:role/AppRole"}, SESSION) is None  # the role's path matters
    role = PrincipalInfo("arn:aws:iam::111122223333:role/app/AppRole", ACCOUNT, "role")
    assert via({"AWS": role.arn}, role) is AllowVia.ROLE


def test_everyone_services_and_federation() -> None:
    service = PrincipalInfo("cloudtrail.amazonaws.com", "", "service")
    anonymous = PrincipalInfo("*", "", "anonymous")
    federated = PrincipalInfo("accounts.google.com", "", "federated")
    for caller in (ALICE, service, anonymous, federated):
        assert via("*", caller) is AllowVia.PRINCIPAL
        assert via({"AWS": "*"}, caller) is AllowVia.PRINCIPAL
    assert via({"Service": "cloudtrail.amazonaws.com"}, service) is AllowVia.PRINCIPAL
    assert via({"Service": "cloudtrail.amazonaws.com"}, ALICE) is None
    assert via({"AWS": ACCOUNT}, service) is None
    assert via({"Federated": "accounts.google.com"}, federated) is AllowVia.PRINCIPAL
    assert via({"AWS": ACCOUNT}, anonymous) is None


def excluded(listed: dict[str, list[str]], caller: PrincipalInfo) -> bool:
    return compile_principals(Principals(entries=tuple((k, tuple(v)) for k, v in listed.items()))).excludes(caller)


def test_not_principal_exempts_only_callers_whose_every_identity_is_listed() -> None:
    # "AWS JSON policy elements: NotPrincipal": a role session is evaluated as the session, its role and its account.
    assert not excluded({"AWS": [SESSION.arn]}, SESSION)
    assert not excluded({"AWS": [SESSION.arn, str(SESSION.role_arn)]}, SESSION)
    assert excluded({"AWS": [SESSION.arn, str(SESSION.role_arn), ACCOUNT]}, SESSION)
    assert not excluded({"AWS": [ALICE.arn]}, ALICE)
    assert excluded({"AWS": [ALICE.arn, f"arn:aws:iam::{ACCOUNT}:root"]}, ALICE)
    assert excluded({"AWS": [ACCOUNT]}, ROOT)
    assert not excluded({"AWS": [ACCOUNT]}, ALICE)
    assert excluded({"Service": ["kms.amazonaws.com"]}, PrincipalInfo("kms.amazonaws.com", "", "service"))
    assert not excluded({"AWS": [ACCOUNT]}, PrincipalInfo("*", "", "anonymous"))
