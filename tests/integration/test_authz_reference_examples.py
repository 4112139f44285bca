"""Every example policy of ``reference/iam-policies-with-kms.md``, attached to a user, gives its documented outcome.

The page ("Using IAM Policies with AWS KMS", AWS KMS Developer Guide) names
account 111122223333, the US West (Oregon) region and two keys by ARN; this
module builds that world on a real server: three keys in us-west-2 and one
in us-east-1 of 111122223333, and a key of 444455556666 whose key policy lets
111122223333 use it.  The two-key example is built from the ids of two created
keys, since key ids cannot be chosen.  Every key policy here is the default
one (it delegates to the account), so the IAM policy under test decides,
except where the example itself is about the key policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers.documents import READ_ONLY_CONSOLE_POLICY
from tests.integration.authz_world import (
    ACCOUNT_A,
    ACCOUNT_B,
    DENY_IN_IDENTITY_POLICY,
    EAST,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    POWER_USER,
    WEST,
    Attempt,
    Identity,
    Key,
    World,
    allow,
    denied,
    deny,
    enable_iam_policies,
    refused,
    running_world,
    unique,
)
from tests.integration.stores import Stores

# The page's policies, verbatim except for the two key ARNs, which are the ids of created keys.
LIST_KEYS_AND_ALIASES = allow(["kms:ListKeys", "kms:ListAliases"])
READ_ONLY_CONSOLE = READ_ONLY_CONSOLE_POLICY["Statement"]
ENCRYPT_DECRYPT_ONE_ACCOUNT = allow(["kms:Encrypt", "kms:Decrypt"], ["arn:aws:kms:*:111122223333:key/*"])
ENCRYPT_DECRYPT_ONE_ACCOUNT_ONE_REGION = allow(
    ["kms:Encrypt", "kms:Decrypt"], ["arn:aws:kms:us-west-2:111122223333:key/*"]
)
DENY_DISABLE_AND_DELETE = deny(["kms:DisableKey", "kms:ScheduleKeyDeletion"])


@dataclass(frozen=True)
class Keys:
    west1: Key
    west2: Key
    west3: Key
    east: Key
    foreign: Key  # 444455556666's key, usable by 111122223333 under its key policy


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-reference")) as built:
        yield built


@pytest.fixture(scope="module")
def keys(world: World) -> Keys:
    a, b = world.a, world.b
    return Keys(
        west1=a.key(region=WEST),
        west2=a.key(region=WEST),
        west3=a.key(region=WEST),
        east=a.key(region=EAST),
        foreign=b.key(
            enable_iam_policies(ACCOUNT_B),
            allow(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], principal=f"arn:aws:iam::{ACCOUNT_A}:root"),
            region=WEST,
        ),
    )


def ciphertext_of(world: World, key: Key, plaintext: bytes = b"reference") -> bytes:
    """Ciphertext made by the key's own root user (allowed by the default key policy)."""
    owner = world.account(key.arn.split(":")[4])
    return bytes(owner.kms(key.region).encrypt(KeyId=key.key_id, Plaintext=plaintext)["CiphertextBlob"])


def round_trip(user: Identity, key: Key, key_id: str | None = None) -> None:
    kms = user.kms(key.region)
    blob = kms.encrypt(KeyId=key_id or key.arn, Plaintext=b"secret")["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob)
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"secret", key.arn)


# --- "Overview of IAM policies": ListKeys and ListAliases on * -------------------------------------------------
def test_list_keys_and_aliases_policy_lists_but_describes_nothing(world: World, keys: Keys) -> None:
    user = world.a.user(LIST_KEYS_AND_ALIASES)
    kms = user.kms(WEST)
    listed = {key["KeyId"] for key in kms.get_paginator("list_keys").paginate().search("Keys")}
    assert {keys.west1.key_id, keys.west2.key_id, keys.west3.key_id} <= listed
    # ListKeys lists the caller's account in the request's region only.
    assert keys.east.key_id not in listed
    assert keys.foreign.key_id not in listed
    assert "Aliases" in kms.list_aliases()
    assert refused(kms.describe_key, KeyId=keys.west1.key_id) == denied(
        user.arn, "kms:DescribeKey", keys.west1.arn, NO_IDENTITY_POLICY
    )
    assert refused(kms.generate_random, NumberOfBytes=16) == denied(
        user.arn, "kms:GenerateRandom", "*", NO_IDENTITY_POLICY
    )


# --- "Allow a user read-only access to all CMKs through the AWS KMS console" -----------------------------------
def test_read_only_console_policy_views_everything_and_changes_nothing(world: World, keys: Keys) -> None:
    user = world.a.user(READ_ONLY_CONSOLE)
    kms = user.kms(WEST)
    key = keys.west1
    before = world.a.kms(WEST).describe_key(KeyId=key.key_id)["KeyMetadata"]

    assert key.key_id in {k["KeyId"] for k in kms.get_paginator("list_keys").paginate().search("Keys")}
    assert "Aliases" in kms.list_aliases()
    assert kms.describe_key(KeyId=key.key_id)["KeyMetadata"] == before
    assert kms.list_key_policies(KeyId=key.key_id)["PolicyNames"] == ["default"]
    shown = json.loads(kms.get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"])
    assert shown["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_A}:root"}
    assert kms.get_key_rotation_status(KeyId=key.key_id)["KeyRotationEnabled"] is False
    iam = user.client("iam")
    assert "Users" in iam.list_users()
    assert "Roles" in iam.list_roles()

    blob = ciphertext_of(world, key)
    key_policy = world.a.kms(WEST).get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"]
    changes: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "kms:DisableKey": (kms.disable_key, {"KeyId": key.key_id}),
        "kms:EnableKey": (kms.enable_key, {"KeyId": key.key_id}),
        "kms:UpdateKeyDescription": (kms.update_key_description, {"KeyId": key.key_id, "Description": "changed"}),
        "kms:PutKeyPolicy": (kms.put_key_policy, {"KeyId": key.key_id, "PolicyName": "default", "Policy": key_policy}),
        "kms:TagResource": (kms.tag_resource, {"KeyId": key.key_id, "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        "kms:UntagResource": (kms.untag_resource, {"KeyId": key.key_id, "TagKeys": ["k"]}),
        "kms:ScheduleKeyDeletion": (kms.schedule_key_deletion, {"KeyId": key.key_id, "PendingWindowInDays": 7}),
        "kms:CancelKeyDeletion": (kms.cancel_key_deletion, {"KeyId": key.key_id}),
        "kms:EnableKeyRotation": (kms.enable_key_rotation, {"KeyId": key.key_id}),
        "kms:DisableKeyRotation": (kms.disable_key_rotation, {"KeyId": key.key_id}),
        "kms:Encrypt": (kms.encrypt, {"KeyId": key.key_id, "Plaintext": b"x"}),
        "kms:Decrypt": (kms.decrypt, {"CiphertextBlob": blob}),
        "kms:GenerateDataKey": (kms.generate_data_key, {"KeyId": key.key_id, "KeySpec": "AES_256"}),
        "kms:ListGrants": (kms.list_grants, {"KeyId": key.key_id}),
        "kms:CreateGrant": (
            kms.create_grant,
            {"KeyId": key.key_id, "GranteePrincipal": user.arn, "Operations": ["Encrypt"]},
        ),
    }
    for action, (call, params) in changes.items():
        assert refused(call, **params) == denied(user.arn, action, key.arn, NO_IDENTITY_POLICY), action
    assert refused(kms.create_key) == denied(user.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY)
    # CreateAlias needs the alias and the key; the policy allows neither.
    assert refused(kms.create_alias, AliasName=unique("alias/ro"), TargetKeyId=key.key_id)[0] == "AccessDeniedException"
    assert refused(iam.create_user, UserName=unique("nope"))[0] == "AccessDenied"

    after = world.a.kms(WEST)
    assert after.describe_key(KeyId=key.key_id)["KeyMetadata"] == before
    assert after.list_resource_tags(KeyId=key.key_id)["Tags"] == []
    assert after.get_key_rotation_status(KeyId=key.key_id)["KeyRotationEnabled"] is False


# --- "Allow a user to encrypt and decrypt with any CMK in a specific AWS account" ------------------------------
def test_encrypt_decrypt_with_any_key_of_one_account(world: World, keys: Keys) -> None:
    user = world.a.user(ENCRYPT_DECRYPT_ONE_ACCOUNT)
    # Any region: the policy's region is "*".
    for key in (keys.west1, keys.west2, keys.east):
        round_trip(user, key)
    assert user.kms(WEST).decrypt(CiphertextBlob=ciphertext_of(world, keys.west3))["Plaintext"] == b"reference"
    # Only Encrypt and Decrypt.
    kms = user.kms(WEST)
    assert refused(kms.generate_data_key, KeyId=keys.west1.key_id, KeySpec="AES_256") == denied(
        user.arn, "kms:GenerateDataKey", keys.west1.arn, NO_IDENTITY_POLICY
    )
    assert refused(kms.describe_key, KeyId=keys.west1.key_id) == denied(
        user.arn, "kms:DescribeKey", keys.west1.arn, NO_IDENTITY_POLICY
    )
    # 444455556666's key policy lets 111122223333 use its key, but this IAM policy names 111122223333's keys only.
    assert refused(kms.encrypt, KeyId=keys.foreign.arn, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", keys.foreign.arn, NO_IDENTITY_POLICY
    )
    assert refused(kms.decrypt, CiphertextBlob=ciphertext_of(world, keys.foreign)) == denied(
        user.arn, "kms:Decrypt", keys.foreign.arn, NO_IDENTITY_POLICY
    )
    # The same example written for 444455556666 reaches that key: the key policy was never the obstacle.
    other = world.a.user(allow(["kms:Encrypt", "kms:Decrypt"], [f"arn:aws:kms:*:{ACCOUNT_B}:key/*"]))
    round_trip(other, keys.foreign)
    assert refused(other.kms(WEST).encrypt, KeyId=keys.west1.arn, Plaintext=b"x") == denied(
        other.arn, "kms:Encrypt", keys.west1.arn, NO_IDENTITY_POLICY
    )


# --- "Allow a user to encrypt and decrypt with any CMK in a specific AWS account and Region" -------------------
def test_encrypt_decrypt_with_any_key_of_one_account_in_one_region(world: World, keys: Keys) -> None:
    user = world.a.user(ENCRYPT_DECRYPT_ONE_ACCOUNT_ONE_REGION)
    for key in (keys.west1, keys.west2, keys.west3):
        round_trip(user, key)
    east = user.kms(EAST)
    assert refused(east.encrypt, KeyId=keys.east.key_id, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", keys.east.arn, NO_IDENTITY_POLICY
    )
    assert refused(east.decrypt, CiphertextBlob=ciphertext_of(world, keys.east)) == denied(
        user.arn, "kms:Decrypt", keys.east.arn, NO_IDENTITY_POLICY
    )
    assert refused(user.kms(WEST).encrypt, KeyId=keys.foreign.arn, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", keys.foreign.arn, NO_IDENTITY_POLICY
    )


# --- "Allow a user to encrypt and decrypt with specific CMKs" ---------------------------------------------------
def test_encrypt_decrypt_with_two_named_keys_only(world: World, keys: Keys) -> None:
    user = world.a.user(allow(["kms:Encrypt", "kms:Decrypt"], [keys.west1.arn, keys.west2.arn]))
    round_trip(user, keys.west1)
    round_trip(user, keys.west2, key_id=keys.west2.key_id)
    kms = user.kms(WEST)
    assert refused(kms.encrypt, KeyId=keys.west3.key_id, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", keys.west3.arn, NO_IDENTITY_POLICY
    )
    assert refused(kms.decrypt, CiphertextBlob=ciphertext_of(world, keys.west3)) == denied(
        user.arn, "kms:Decrypt", keys.west3.arn, NO_IDENTITY_POLICY
    )
    # The resource is always the key's ARN, however the request names the key.
    first_alias, third_alias = unique("alias/first"), unique("alias/third")
    world.a.kms(WEST).create_alias(AliasName=first_alias, TargetKeyId=keys.west1.key_id)
    world.a.kms(WEST).create_alias(AliasName=third_alias, TargetKeyId=keys.west3.key_id)
    round_trip(user, keys.west1, key_id=first_alias)
    assert refused(kms.encrypt, KeyId=third_alias, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", keys.west3.arn, NO_IDENTITY_POLICY
    )


# --- "Prevent a user from disabling or deleting any CMKs" ------------------------------------------------------
def test_deny_disable_and_delete_wins_over_power_user_and_key_policy(world: World, keys: Keys) -> None:
    guarded = world.a.user(DENY_DISABLE_AND_DELETE, managed=[POWER_USER])
    control = world.a.user(managed=[POWER_USER])
    administered = [
        "kms:DescribeKey",
        "kms:EnableKey",
        "kms:DisableKey",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
    ]
    key = world.a.key(enable_iam_policies(ACCOUNT_A), allow(administered, principal=[guarded.arn, control.arn]))
    kms = guarded.kms(WEST)
    assert refused(kms.disable_key, KeyId=key.key_id) == denied(
        guarded.arn, "kms:DisableKey", key.arn, DENY_IN_IDENTITY_POLICY
    )
    assert refused(kms.schedule_key_deletion, KeyId=key.key_id, PendingWindowInDays=7) == denied(
        guarded.arn, "kms:ScheduleKeyDeletion", key.arn, DENY_IN_IDENTITY_POLICY
    )
    assert world.a.kms(WEST).describe_key(KeyId=key.key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    # Everything else the key policy allows still works for the guarded user.
    kms.enable_key(KeyId=key.key_id)
    assert kms.describe_key(KeyId=key.key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    # The deny reaches keys with the default policy and keys the user made and fully controls.
    assert refused(kms.disable_key, KeyId=keys.west2.key_id) == denied(
        guarded.arn, "kms:DisableKey", keys.west2.arn, DENY_IN_IDENTITY_POLICY
    )
    own = kms.create_key(Policy=json.dumps(key_policy_administered_by(guarded)))["KeyMetadata"]
    assert refused(kms.disable_key, KeyId=own["KeyId"]) == denied(
        guarded.arn, "kms:DisableKey", own["Arn"], DENY_IN_IDENTITY_POLICY
    )
    assert refused(kms.schedule_key_deletion, KeyId=own["KeyId"], PendingWindowInDays=7) == denied(
        guarded.arn, "kms:ScheduleKeyDeletion", own["Arn"], DENY_IN_IDENTITY_POLICY
    )

    # Without the deny, the same key policy lets a power user do both.
    controlled = control.kms(WEST)
    controlled.disable_key(KeyId=key.key_id)
    assert controlled.describe_key(KeyId=key.key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    controlled.schedule_key_deletion(KeyId=key.key_id, PendingWindowInDays=7)
    assert controlled.describe_key(KeyId=key.key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    controlled.cancel_key_deletion(KeyId=key.key_id)
    controlled.enable_key(KeyId=key.key_id)


def key_policy_administered_by(user: Identity) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [enable_iam_policies(ACCOUNT_A), allow("kms:*", principal=user.arn, sid="Key administrator")],
    }


# --- "AWS managed policies for AWS KMS": AWSKeyManagementServicePowerUser --------------------------------------
def test_power_user_creates_keys_and_administers_only_those_whose_policy_lets_them(world: World, keys: Keys) -> None:
    user = world.a.user(managed=[POWER_USER])
    kms = user.kms(WEST)
    assert "Keys" in kms.list_keys()
    assert "Aliases" in kms.list_aliases()
    assert len(kms.generate_random(NumberOfBytes=8)["Plaintext"]) == 8

    # A key with the default policy: the power user's IAM policy is what counts, and it reads and tags only.
    tagged = kms.create_key(Description="power", Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]
    plain_id, plain_arn = tagged["KeyId"], tagged["Arn"]
    assert kms.describe_key(KeyId=plain_id)["KeyMetadata"]["Description"] == "power"
    assert kms.get_key_policy(KeyId=plain_id, PolicyName="default")["Policy"]
    assert kms.get_key_rotation_status(KeyId=plain_id)["KeyRotationEnabled"] is False
    kms.tag_resource(KeyId=plain_id, Tags=[{"TagKey": "stage", "TagValue": "dev"}])
    kms.untag_resource(KeyId=plain_id, TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=plain_id)["Tags"] == [{"TagKey": "stage", "TagValue": "dev"}]
    alias = unique("alias/power")
    kms.create_alias(AliasName=alias, TargetKeyId=plain_id)
    kms.delete_alias(AliasName=alias)
    attempts: list[Attempt] = [
        ("kms:DisableKey", kms.disable_key, {"KeyId": plain_id}),
        ("kms:ScheduleKeyDeletion", kms.schedule_key_deletion, {"KeyId": plain_id, "PendingWindowInDays": 7}),
        ("kms:Encrypt", kms.encrypt, {"KeyId": plain_id, "Plaintext": b"x"}),
        (
            "kms:PutKeyPolicy",
            kms.put_key_policy,
            {"KeyId": plain_id, "PolicyName": "default", "Policy": json.dumps(key_policy_administered_by(user))},
        ),
    ]
    for action, call, params in attempts:
        assert refused(call, **params) == denied(user.arn, action, plain_arn, NO_IDENTITY_POLICY), action

    # A key whose policy makes the power user its administrator: now they administer (and use) it.
    own = kms.create_key(Policy=json.dumps(key_policy_administered_by(user)))["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=own)
    kms.enable_key(KeyId=own)
    kms.update_key_description(KeyId=own, Description="administered")
    kms.enable_key_rotation(KeyId=own)
    blob = kms.encrypt(KeyId=own, Plaintext=b"mine")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"mine"
    kms.put_key_policy(KeyId=own, PolicyName="default", Policy=json.dumps(key_policy_administered_by(user)))
    kms.schedule_key_deletion(KeyId=own, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=own)

    # Other people's keys: readable where the key policy delegates to the account, not administrable.
    assert kms.describe_key(KeyId=keys.west1.key_id)["KeyMetadata"]["Arn"] == keys.west1.arn
    assert refused(kms.disable_key, KeyId=keys.west1.key_id) == denied(
        user.arn, "kms:DisableKey", keys.west1.arn, NO_IDENTITY_POLICY
    )
    # A key whose policy neither names the power user nor delegates to the account is closed to them.
    stranger = world.a.user()
    closed = world.a.key(allow("kms:*", principal=stranger.arn), bypass=True)
    assert refused(kms.describe_key, KeyId=closed.key_id) == denied(
        user.arn, "kms:DescribeKey", closed.arn, NO_RESOURCE_POLICY
    )
    assert refused(kms.get_key_policy, KeyId=closed.key_id, PolicyName="default") == denied(
        user.arn, "kms:GetKeyPolicy", closed.arn, NO_RESOURCE_POLICY
    )
    # The managed policy allows iam:ListUsers, ListRoles and ListGroups, nothing else in IAM.
    iam = user.client("iam")
    assert "Groups" in iam.list_groups()
    assert refused(iam.create_user, UserName=unique("nope"))[0] == "AccessDenied"
