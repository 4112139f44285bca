"""Keys created with the console's key policy, through boto3 on a real server: users use, administrators administer.

For a symmetric encryption key, an RSA signing key and an HMAC key, account
111122223333's root user creates the key with the policy AWS's console writes
(:mod:`kmsd.authz.console_policy`) naming one administrator and one user, two
IAM users with no identity policy.  The key user can call exactly the
operations of its type's "Allow use of the key" statement, and an
administrator action is denied with AWS's text; the administrator can
administer the key but not use it.  The persistent-resources statement lets
key users create grants only for AWS resources (``kms:GrantIsForAWSResource``),
so a direct CreateGrant is denied too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kmsd.authz.console_policy import ConsoleKeyType, console_key_policy_document
from kmsd.crypto.key_spec import key_spec
from tests.integration.authz_world import (
    ACCOUNT_A,
    NO_IDENTITY_POLICY,
    Attempt,
    Identity,
    Key,
    World,
    denied,
    refused,
    running_world,
)
from tests.integration.stores import Stores


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-console-policy")) as built:
        yield built


@dataclass
class ConsoleKey:
    key: Key
    administrator: Identity
    user: Identity
    policy_text: str


def console_key(world: World, spec: str, usage: str) -> ConsoleKey:
    """A key of ``spec`` and ``usage`` created with the console's policy for a new administrator and user."""
    administrator = world.a.user()
    user = world.a.user()
    document = console_key_policy_document(
        ACCOUNT_A, ConsoleKeyType(key_spec(spec), usage), administrators=[administrator.arn], users=[user.arn]
    )
    text = json.dumps(document, indent=4)
    metadata = world.a.kms().create_key(Policy=text, KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    return ConsoleKey(Key(metadata["KeyId"], metadata["Arn"], "us-west-2"), administrator, user, text)


def assert_denied(identity: Identity, key: Key, attempts: list[Attempt]) -> None:
    for action, call, params in attempts:
        assert refused(call, **params) == denied(identity.arn, action, key.arn, NO_IDENTITY_POLICY), action


def assert_administers(made: ConsoleKey) -> None:
    """What the administrators statement allows on any key type, done by the administrator."""
    kms = made.administrator.kms()
    key_id = made.key.key_id
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == made.policy_text
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=made.policy_text)
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "payments"}])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "payments"}]
    kms.untag_resource(KeyId=key_id, TagKeys=["team"])
    kms.update_key_description(KeyId=key_id, Description="administered")
    kms.disable_key(KeyId=key_id)
    kms.enable_key(KeyId=key_id)
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    kms.enable_key(KeyId=key_id)  # a cancelled deletion leaves the key disabled


def user_may_not_administer(made: ConsoleKey) -> list[Attempt]:
    kms = made.user.kms()
    key_id = made.key.key_id
    return [
        ("kms:DisableKey", kms.disable_key, {"KeyId": key_id}),
        ("kms:GetKeyPolicy", kms.get_key_policy, {"KeyId": key_id, "PolicyName": "default"}),
        ("kms:ScheduleKeyDeletion", kms.schedule_key_deletion, {"KeyId": key_id, "PendingWindowInDays": 7}),
        ("kms:TagResource", kms.tag_resource, {"KeyId": key_id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ("kms:ListGrants", kms.list_grants, {"KeyId": key_id}),
        # kms:GrantIsForAWSResource is false for a call made directly, not by an AWS service.
        (
            "kms:CreateGrant",
            kms.create_grant,
            {"KeyId": key_id, "GranteePrincipal": made.user.arn, "Operations": ["DescribeKey"]},
        ),
    ]


def test_symmetric_key_users_encrypt_and_administrators_administer(world: World) -> None:
    made = console_key(world, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    key_id = made.key.key_id
    kms = made.user.kms()
    # kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"console")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"console"
    again = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=again)["Plaintext"] == b"console"
    assert len(kms.generate_data_key(KeyId=key_id, NumberOfBytes=32)["Plaintext"]) == 32
    assert kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")["CiphertextBlob"]
    assert kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")["PublicKey"]
    assert kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")["PublicKey"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert_denied(made.user, made.key, user_may_not_administer(made))

    assert_administers(made)
    admin = made.administrator.kms()
    admin.enable_key_rotation(KeyId=key_id)
    assert admin.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    admin.disable_key_rotation(KeyId=key_id)
    assert admin.rotate_key_on_demand(KeyId=key_id)["KeyId"].endswith(key_id)
    assert_denied(
        made.administrator,
        made.key,
        [
            ("kms:Encrypt", admin.encrypt, {"KeyId": key_id, "Plaintext": b"x"}),
            ("kms:Decrypt", admin.decrypt, {"CiphertextBlob": blob}),
            ("kms:GenerateDataKey", admin.generate_data_key, {"KeyId": key_id, "NumberOfBytes": 16}),
        ],
    )


def test_rsa_signing_key_users_sign_and_administrators_administer(world: World) -> None:
    made = console_key(world, "RSA_2048", "SIGN_VERIFY")
    key_id = made.key.key_id
    kms = made.user.kms()
    # kms:DescribeKey, kms:GetPublicKey, kms:Sign, kms:Verify
    algorithm = "RSASSA_PSS_SHA_256"
    signature = kms.sign(KeyId=key_id, Message=b"release", SigningAlgorithm=algorithm)["Signature"]
    verified = kms.verify(KeyId=key_id, Message=b"release", Signature=signature, SigningAlgorithm=algorithm)
    assert verified["SignatureValid"] is True
    assert kms.get_public_key(KeyId=key_id)["KeyUsage"] == "SIGN_VERIFY"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeySpec"] == "RSA_2048"
    assert_denied(made.user, made.key, user_may_not_administer(made))

    assert_administers(made)
    admin = made.administrator.kms()
    # kms:Get* covers GetPublicKey: the administrator may read the public key, but not sign.
    assert admin.get_public_key(KeyId=key_id)["KeySpec"] == "RSA_2048"
    assert_denied(
        made.administrator,
        made.key,
        [
            ("kms:Sign", admin.sign, {"KeyId": key_id, "Message": b"x", "SigningAlgorithm": algorithm}),
            (
                "kms:Verify",
                admin.verify,
                {"KeyId": key_id, "Message": b"release", "Signature": signature, "SigningAlgorithm": algorithm},
            ),
        ],
    )


def test_hmac_key_users_make_macs_and_administrators_administer(world: World) -> None:
    made = console_key(world, "HMAC_256", "GENERATE_VERIFY_MAC")
    key_id = made.key.key_id
    kms = made.user.kms()
    # kms:DescribeKey, kms:GenerateMac, kms:VerifyMac
    algorithm = "HMAC_SHA_256"
    mac = kms.generate_mac(KeyId=key_id, Message=b"token", MacAlgorithm=algorithm)["Mac"]
    assert kms.verify_mac(KeyId=key_id, Message=b"token", Mac=mac, MacAlgorithm=algorithm)["MacValid"] is True
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    # No persistent-resources statement for HMAC keys: CreateGrant is denied as every administrator action is.
    assert_denied(made.user, made.key, user_may_not_administer(made))

    assert_administers(made)
    admin = made.administrator.kms()
    assert_denied(
        made.administrator,
        made.key,
        [
            ("kms:GenerateMac", admin.generate_mac, {"KeyId": key_id, "Message": b"x", "MacAlgorithm": algorithm}),
            (
                "kms:VerifyMac",
                admin.verify_mac,
                {"KeyId": key_id, "Message": b"token", "Mac": mac, "MacAlgorithm": algorithm},
            ),
        ],
    )
