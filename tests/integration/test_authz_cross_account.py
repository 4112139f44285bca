"""A key of 111122223333 used from 444455556666: both accounts must agree.

"Allowing users in other accounts to use a KMS key" (AWS KMS Developer
Guide): "The key policy for the KMS key must give the external account (or
users and roles in the external account) permission to use the KMS key" and
"You must attach IAM policies to IAM users and roles in the external
account ... Neither the key policy nor the IAM policy alone is sufficient",
"even when users and roles are specified in the key policy".  A key in
another account is named by its key ARN or alias ARN; ListKeys and
ListAliases show the caller's own account only; operations the API
reference marks "Cross-account use: No" never act on another account's key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    ACCOUNT_B,
    DENY_IN_IDENTITY_POLICY,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    WEST,
    Attempt,
    Key,
    World,
    account_root,
    allow,
    assume,
    denied,
    deny,
    enable_iam_policies,
    refused,
    running_world,
    unique,
)
from tests.integration.stores import Stores

# The key policy statement of "Step 1: Add a key policy statement in the local account".
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
SHARED_WITH_B = allow(USE_ACTIONS, principal=account_root(ACCOUNT_B), sid="Allow an external account to use this key")


@dataclass(frozen=True)
class Shared:
    key: Key  # delegated to 444455556666 for the use actions
    private: Key  # the default key policy: 111122223333 only
    alias: str  # an alias of ``key`` in 111122223333


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-cross-account")) as built:
        yield built


@pytest.fixture(scope="module")
def shared(world: World) -> Shared:
    assert world.b.account_id == ACCOUNT_B  # a key policy may name only accounts that exist
    key = world.a.key(enable_iam_policies(ACCOUNT_A), SHARED_WITH_B)
    alias = unique("alias/shared")
    world.a.kms().create_alias(AliasName=alias, TargetKeyId=key.key_id)
    return Shared(key, world.a.key(), alias)


def test_external_account_needs_its_own_iam_policy(world: World, shared: Shared) -> None:
    # "Step 2: Add IAM policies in the external account", with the key's ARN as the resource.
    user = world.b.user(allow(USE_ACTIONS, shared.key.arn))
    kms = user.kms()
    described = kms.describe_key(KeyId=shared.key.arn)["KeyMetadata"]
    assert (described["Arn"], described["AWSAccountId"]) == (shared.key.arn, ACCOUNT_A)
    blob = kms.encrypt(KeyId=shared.key.arn, Plaintext=b"from b")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from b"
    assert world.a.kms().decrypt(CiphertextBlob=blob)["Plaintext"] == b"from b"
    assert kms.generate_data_key(KeyId=shared.key.arn, KeySpec="AES_256")["KeyId"] == shared.key.arn

    without_iam = world.b.user()
    assert refused(without_iam.kms().encrypt, KeyId=shared.key.arn, Plaintext=b"x") == denied(
        without_iam.arn, "kms:Encrypt", shared.key.arn, NO_IDENTITY_POLICY
    )


def test_external_iam_policy_alone_is_not_enough(world: World, shared: Shared) -> None:
    user = world.b.user(allow("kms:*"))
    kms = user.kms()
    assert refused(kms.encrypt, KeyId=shared.private.arn, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", shared.private.arn, NO_RESOURCE_POLICY
    )
    assert refused(kms.describe_key, KeyId=shared.private.arn) == denied(
        user.arn, "kms:DescribeKey", shared.private.arn, NO_RESOURCE_POLICY
    )
    # The key policy limits the actions the external account can delegate.
    assert refused(kms.get_key_rotation_status, KeyId=shared.key.arn) == denied(
        user.arn, "kms:GetKeyRotationStatus", shared.key.arn, NO_RESOURCE_POLICY
    )
    assert refused(kms.list_grants, KeyId=shared.key.arn) == denied(
        user.arn, "kms:ListGrants", shared.key.arn, NO_RESOURCE_POLICY
    )


def test_key_policy_naming_external_users_and_roles(world: World) -> None:
    named = world.b.user()
    other = world.b.user(allow("kms:*"))
    caller = world.b.user()
    role = world.b.role(allow(USE_ACTIONS), trusted=caller.arn)
    key = world.a.key(enable_iam_policies(ACCOUNT_A), allow(USE_ACTIONS, principal=[named.arn, role]))
    # Named in the key policy, but its own account has not allowed it yet.
    assert refused(named.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == denied(
        named.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )
    world.b.iam.put_user_policy(
        UserName=named.name,
        PolicyName="use",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow(USE_ACTIONS, key.arn)]}),
    )
    assert named.kms().encrypt(KeyId=key.arn, Plaintext=b"x")["KeyId"] == key.arn
    # "If an IAM policy gives KMS key access to other external users or roles, it has no effect."
    assert refused(other.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == denied(
        other.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY
    )
    session = assume(caller, role)
    assert session.kms().encrypt(KeyId=key.arn, Plaintext=b"x")["KeyId"] == key.arn


def test_lists_show_only_the_callers_account(world: World, shared: Shared) -> None:
    b = world.b.kms()
    keys = {k["KeyId"] for k in b.get_paginator("list_keys").paginate().search("Keys")}
    assert shared.key.key_id not in keys
    assert shared.private.key_id not in keys
    own = world.b.key()
    assert own.key_id in {k["KeyId"] for k in b.get_paginator("list_keys").paginate().search("Keys")}
    aliases = {a["AliasName"] for a in b.get_paginator("list_aliases").paginate().search("Aliases")}
    assert shared.alias not in aliases
    # Even naming the other account's key does not list its aliases.
    assert refused(b.list_aliases, KeyId=shared.key.arn)[0] in {"NotFoundException", "AccessDeniedException"}
    assert shared.alias in {a["AliasName"] for a in world.a.kms().list_aliases()["Aliases"]}


def test_another_accounts_key_is_named_by_key_arn_or_alias_arn(world: World, shared: Shared) -> None:
    user = world.b.user(allow(USE_ACTIONS, shared.key.arn))
    kms = user.kms()
    alias_arn = f"arn:aws:kms:{WEST}:{ACCOUNT_A}:{shared.alias}"
    assert kms.encrypt(KeyId=alias_arn, Plaintext=b"x")["KeyId"] == shared.key.arn
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["Arn"] == shared.key.arn
    # A bare key id or alias name is looked up in the caller's own account, where there is no such key.
    assert refused(kms.encrypt, KeyId=shared.key.key_id, Plaintext=b"x")[0] == "NotFoundException"
    assert refused(kms.encrypt, KeyId=shared.alias, Plaintext=b"x")[0] == "NotFoundException"


def test_operations_without_cross_account_use_never_act_on_another_accounts_key(world: World) -> None:
    # Even when the key policy gives the other account kms:* and its IAM policy allows kms:*, the API reference
    # says "Cross-account use: No" for these operations: they only ever address the caller's own account.
    key = world.a.key(enable_iam_policies(ACCOUNT_A), allow("kms:*", principal=account_root(ACCOUNT_B)))
    user = world.b.user(allow("kms:*"))
    kms = user.kms()
    before = world.a.kms().describe_key(KeyId=key.key_id)["KeyMetadata"]
    attempts: list[Attempt] = [
        ("kms:DisableKey", kms.disable_key, {"KeyId": key.arn}),
        ("kms:ScheduleKeyDeletion", kms.schedule_key_deletion, {"KeyId": key.arn, "PendingWindowInDays": 7}),
        ("kms:UpdateKeyDescription", kms.update_key_description, {"KeyId": key.arn, "Description": "taken"}),
        ("kms:PutKeyPolicy", kms.put_key_policy, {"KeyId": key.arn, "PolicyName": "default", "Policy": "{}"}),
        ("kms:GetKeyPolicy", kms.get_key_policy, {"KeyId": key.arn, "PolicyName": "default"}),
        ("kms:TagResource", kms.tag_resource, {"KeyId": key.arn, "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        ("kms:EnableKeyRotation", kms.enable_key_rotation, {"KeyId": key.arn}),
    ]
    for action, call, params in attempts:
        # AWS documents that these cannot be used across accounts, not which error says so.
        assert refused(call, **params)[0] in {"NotFoundException", "AccessDeniedException"}, action
    after = world.a.kms()
    assert after.describe_key(KeyId=key.key_id)["KeyMetadata"] == before
    assert after.list_resource_tags(KeyId=key.key_id)["Tags"] == []
    assert after.get_key_rotation_status(KeyId=key.key_id)["KeyRotationEnabled"] is False
    # The operations that do allow cross-account use work with the same policies.
    assert kms.encrypt(KeyId=key.arn, Plaintext=b"x")["KeyId"] == key.arn


def test_external_account_creates_grants_when_both_policies_allow(world: World) -> None:
    key = world.a.key(
        enable_iam_policies(ACCOUNT_A), allow(["kms:CreateGrant", "kms:DescribeKey"], principal=account_root(ACCOUNT_B))
    )
    granter = world.b.user(allow("kms:CreateGrant", key.arn))
    grantee = world.b.user()
    made = granter.kms().create_grant(KeyId=key.arn, GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    assert grantee.kms().encrypt(KeyId=key.arn, Plaintext=b"x", GrantTokens=[made["GrantToken"]])["KeyId"] == key.arn
    listed = world.a.kms().list_grants(KeyId=key.key_id)["Grants"]
    assert {g["GrantId"]: g["GranteePrincipal"] for g in listed}[made["GrantId"]] == grantee.arn
    without_iam = world.b.user()
    assert refused(
        without_iam.kms().create_grant, KeyId=key.arn, GranteePrincipal=grantee.arn, Operations=["Encrypt"]
    ) == denied(without_iam.arn, "kms:CreateGrant", key.arn, NO_IDENTITY_POLICY)


def test_external_accounts_deny_still_wins(world: World, shared: Shared) -> None:
    user = world.b.user(allow(USE_ACTIONS, shared.key.arn), deny("kms:Decrypt"))
    blob = user.kms().encrypt(KeyId=shared.key.arn, Plaintext=b"x")["CiphertextBlob"]
    assert refused(user.kms().decrypt, CiphertextBlob=blob) == denied(
        user.arn, "kms:Decrypt", shared.key.arn, DENY_IN_IDENTITY_POLICY
    )


def test_user_assumes_a_role_in_the_keys_account(world: World) -> None:
    # "Example 2: User assumes role with permission to use a KMS key in a different AWS account".
    key = world.a.key()
    role = world.a.role(allow(USE_ACTIONS, key.arn), trusted=account_root(ACCOUNT_B))
    user = world.b.user(allow("sts:AssumeRole", role))
    session = assume(user, role)
    assert session.account_id == ACCOUNT_A
    # The session belongs to the key's account, so the bare key id names the key.
    assert session.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    assert refused(user.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY
    )
