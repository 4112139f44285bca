"""Issue 9, items 2, 11 and 12, attacked through a real ``kmsd serve``.

- Item 2: a tenant's key policy holds a ``StringLike`` that a backtracking
  matcher needs astronomically many steps for; a hand-signed Encrypt with a
  long adversarial encryption context must come back with the right answer,
  and ``/health`` and another account's calls must answer after it.  The
  guard is the HTTP client's timeout (and pytest's), never a measured time.
- Item 11: an encryption context or tags that spell one key two ways
  (``tenant``/``TENANT``, ``env``/``ENV``) must be decided the same in both
  member orders, and no spelling may pass a condition that the other fails.
- Item 12: a key policy statement ``Allow`` with ``NotPrincipal`` naming
  alice must not allow alice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import Account, health, kms_call, new_account
from tests.helpers.documents import root_statement
from tests.integration.server import KmsdServer


def key_with_policy(server: KmsdServer, account: Account, *statements: dict[str, Any]) -> str:
    policy = {"Version": "2012-10-17", "Statement": [root_statement(account.account_id), *statements]}
    kms = server.client("kms", access_key=account.credentials[0], secret_key=account.credentials[1])
    created = kms.create_key(Policy=json.dumps(policy))
    return str(created["KeyMetadata"]["KeyId"])


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


# --- item 2 ------------------------------------------------------------------------------------------------------

ADVERSARIAL = "*a*a*a*a*a*a*a*a*a*a*a*a*b"


@pytest.mark.timeout(240)
def test_an_adversarial_string_like_does_not_stall_the_server(server: KmsdServer) -> None:
    tenant_b = new_account(server)
    tenant_a = new_account(server)
    deny_pattern = {
        "Sid": "NoBContext",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {"StringLike": {"kms:EncryptionContext:t": ADVERSARIAL}},
    }
    key_b = key_with_policy(server, tenant_b, deny_pattern)
    key_a = key_with_policy(server, tenant_a)
    plaintext = "c2VjcmV0"  # base64 of "secret"

    # No "b" at the end: the Deny's pattern does not match, so the root statement allows the call.
    status, body = kms_call(
        server,
        tenant_b.credentials,
        "Encrypt",
        {"KeyId": key_b, "Plaintext": plaintext, "EncryptionContext": {"t": "a" * 20_000}},
    )
    assert status == 200, body
    assert body["KeyId"].endswith(key_b)
    # The same value ending in "b" matches, so the explicit deny applies: the matcher gives both answers.
    status, body = kms_call(
        server,
        tenant_b.credentials,
        "Encrypt",
        {"KeyId": key_b, "Plaintext": plaintext, "EncryptionContext": {"t": "a" * 20_000 + "b"}},
    )
    assert (status, body["__type"]) == (400, "AccessDeniedException")
    assert "with an explicit deny in a resource-based policy" in body["message"]
    # The server still serves everyone else.
    assert health(server) == 200
    status, body = kms_call(server, tenant_a.credentials, "Encrypt", {"KeyId": key_a, "Plaintext": plaintext})
    assert status == 200, body


# --- item 11 -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IamUser:
    arn: str
    kms: Any


@pytest.fixture
def tenant(server: KmsdServer) -> Iterator[tuple[Account, Any]]:
    account = new_account(server)
    iam = server.client("iam", access_key=account.credentials[0], secret_key=account.credentials[1])
    yield account, iam


def make_user(server: KmsdServer, iam: Any, name: str, policy: dict[str, Any] | None = None) -> IamUser:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return IamUser(arn, server.client("kms", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]))


def test_encryption_context_spelled_twice_needs_both_spellings(server: KmsdServer, tenant: tuple[Account, Any]) -> None:
    account, iam = tenant
    user = make_user(server, iam, "tenant-a-app")
    key_id = key_with_policy(
        server,
        account,
        {
            "Sid": "TenantA",
            "Effect": "Allow",
            "Principal": {"AWS": user.arn},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "a"}},
        },
    )
    for context in ({"tenant": "b", "TENANT": "a"}, {"TENANT": "a", "tenant": "b"}):
        assert list(context) != ["tenant"]  # the dict keeps the member order boto3 sends
        with pytest.raises(ClientError) as excinfo:
            user.kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)
        assert error_code(excinfo) == "AccessDeniedException", context
    for context in ({"tenant": "a", "TENANT": "a"}, {"Tenant": "a"}):
        assert user.kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)["KeyId"]


def test_a_deny_on_one_spelling_of_the_context_holds_in_both_orders(
    server: KmsdServer, tenant: tuple[Account, Any]
) -> None:
    account, _ = tenant
    key_id = key_with_policy(
        server,
        account,
        {
            "Sid": "OnlyTenantA",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "a"}},
        },
    )
    kms = server.client("kms", access_key=account.credentials[0], secret_key=account.credentials[1])
    for context in ({"tenant": "b", "TENANT": "a"}, {"TENANT": "a", "tenant": "b"}):
        with pytest.raises(ClientError) as excinfo:
            kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)
        assert error_code(excinfo) == "AccessDeniedException", context
    assert kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"tenant": "a"})["KeyId"]


def test_request_tags_spelled_twice_cannot_pass_on_the_other_spelling(
    server: KmsdServer, tenant: tuple[Account, Any]
) -> None:
    _, iam = tenant
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:CreateKey", "kms:TagResource"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}},
            }
        ],
    }
    user = make_user(server, iam, "key-maker", policy)
    prod_and_dev = [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "ENV", "TagValue": "dev"}]
    for tags in (prod_and_dev, list(reversed(prod_and_dev))):
        with pytest.raises(ClientError) as excinfo:
            user.kms.create_key(Tags=tags)
        assert error_code(excinfo) == "AccessDeniedException", tags
    assert user.kms.create_key(Tags=[{"TagKey": "ENV", "TagValue": "dev"}])["KeyMetadata"]["KeyId"]


def test_resource_tags_spelled_twice_cannot_dodge_a_deny(server: KmsdServer, tenant: tuple[Account, Any]) -> None:
    account, iam = tenant
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}},
            },
        ],
    }
    user = make_user(server, iam, "operator", policy)
    admin = server.client("kms", access_key=account.credentials[0], secret_key=account.credentials[1])
    prod_and_dev = [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "ENV", "TagValue": "dev"}]
    for tags in (prod_and_dev, list(reversed(prod_and_dev))):
        key_id = admin.create_key()["KeyMetadata"]["KeyId"]
        admin.tag_resource(KeyId=key_id, Tags=tags)
        with pytest.raises(ClientError) as excinfo:
            user.kms.encrypt(KeyId=key_id, Plaintext=b"x")
        assert error_code(excinfo) == "AccessDeniedException", tags
    untagged = admin.create_key()["KeyMetadata"]["KeyId"]
    assert user.kms.encrypt(KeyId=untagged, Plaintext=b"x")["KeyId"]


def test_iam_request_tags_spelled_twice_follow_the_same_rule(server: KmsdServer, tenant: tuple[Account, Any]) -> None:
    # IAM builds its own request context; aws:RequestTag/env spelled two ways is one key there too.
    _, iam = tenant
    iam.create_user(UserName="tagger")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:TagUser",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}},
            }
        ],
    }
    iam.put_user_policy(UserName="tagger", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="tagger")["AccessKey"]
    tagger = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    prod_and_dev = [{"Key": "env", "Value": "prod"}, {"Key": "ENV", "Value": "dev"}]
    for tags in (prod_and_dev, list(reversed(prod_and_dev))):
        with pytest.raises(ClientError) as excinfo:
            tagger.tag_user(UserName="tagger", Tags=tags)
        assert error_code(excinfo) == "AccessDenied", tags
    tagger.tag_user(UserName="tagger", Tags=[{"Key": "env", "Value": "dev"}])


# --- item 12 -----------------------------------------------------------------------------------------------------


def test_not_principal_allow_in_a_key_policy_does_not_allow_the_listed_user(
    server: KmsdServer, tenant: tuple[Account, Any]
) -> None:
    account, iam = tenant
    alice = make_user(server, iam, "alice")
    bob = make_user(server, iam, "bob")
    key_id = key_with_policy(
        server,
        account,
        {
            "Sid": "EveryoneButAlice",
            "Effect": "Allow",
            "NotPrincipal": {"AWS": alice.arn},
            "Action": "kms:Encrypt",
            "Resource": "*",
        },
    )
    with pytest.raises(ClientError) as excinfo:
        alice.kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_code(excinfo) == "AccessDeniedException"
    assert (
        "because no identity-based policy allows the kms:Encrypt action" in excinfo.value.response["Error"]["Message"]
    )
    assert bob.kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"]
