"""The key policy is the gate: IAM policies count only where the key policy delegates to the account.

"Key policies in AWS KMS" and "Default key policy" (AWS KMS Developer Guide):
"Unlike other AWS resource policies, an AWS KMS key policy does not
automatically give permission to the account or any of its users"; the
statement naming ``arn:aws:iam::ACCOUNT:root`` "allows the account to use IAM
policies to delegate"; "Without this permission, IAM policies that allow
access to the key are ineffective, although IAM policies that deny access to
the key are still effective".  A key policy naming a principal directly is
enough on its own, in the key's account, for users and for role sessions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    DENY_IN_IDENTITY_POLICY,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    WEST,
    Attempt,
    World,
    account_root,
    allow,
    assume,
    denied,
    deny,
    enable_iam_policies,
    policy,
    refused,
    running_world,
    unique,
)
from tests.integration.stores import Stores

KMS_EVERYTHING = allow("kms:*")
KMS_ROOT = enable_iam_policies(ACCOUNT_A)
USE = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-gate")) as built:
        yield built


def test_identity_policy_alone_never_reaches_a_key_that_does_not_delegate(world: World) -> None:
    owner = world.a.user()
    outsider = world.a.user(KMS_EVERYTHING)
    key = world.a.key(allow("kms:*", principal=owner.arn), bypass=True)
    kms = outsider.kms()
    attempts: list[Attempt] = [
        ("kms:Encrypt", kms.encrypt, {"KeyId": key.key_id, "Plaintext": b"x"}),
        ("kms:DescribeKey", kms.describe_key, {"KeyId": key.key_id}),
        ("kms:DisableKey", kms.disable_key, {"KeyId": key.key_id}),
        ("kms:GetKeyPolicy", kms.get_key_policy, {"KeyId": key.key_id, "PolicyName": "default"}),
    ]
    for action, call, params in attempts:
        assert refused(call, **params) == denied(outsider.arn, action, key.arn, NO_RESOURCE_POLICY), action
    # kms:* in IAM still covers what needs no key: operations on "*" are decided by IAM alone.
    assert kms.list_keys()["Keys"]
    assert kms.create_key()["KeyMetadata"]["KeyState"] == "Enabled"


def test_key_policy_naming_a_user_needs_no_iam_policy(world: World) -> None:
    user = world.a.user()
    key = world.a.key(enable_iam_policies(ACCOUNT_A), allow(USE, principal=user.arn))
    kms = user.kms()
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"direct")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"direct"
    assert kms.describe_key(KeyId=key.arn)["KeyMetadata"]["KeyId"] == key.key_id
    # What the key policy does not list falls back to the delegation, where the user has no IAM policy.
    assert refused(kms.generate_data_key, KeyId=key.key_id, NumberOfBytes=32) == denied(
        user.arn, "kms:GenerateDataKey", key.arn, NO_IDENTITY_POLICY
    )
    # And without the delegating statement, nothing else is open to them: the key policy alone decides.
    closed = world.a.key(allow(USE, principal=user.arn), allow("kms:*", principal=world.a.user().arn), bypass=True)
    assert kms.encrypt(KeyId=closed.key_id, Plaintext=b"x")["KeyId"] == closed.arn
    assert refused(kms.generate_data_key, KeyId=closed.key_id, NumberOfBytes=32) == denied(
        user.arn, "kms:GenerateDataKey", closed.arn, NO_RESOURCE_POLICY
    )


def test_default_key_policy_delegates_to_iam(world: World) -> None:
    key = world.a.key()
    nobody = world.a.user()
    assert refused(nobody.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        nobody.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )
    user = world.a.user(allow(["kms:Encrypt"], key.arn))
    assert user.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    # A policy change is effective for the very next request.
    world.a.iam.put_user_policy(UserName=user.name, PolicyName="inline", PolicyDocument=policy(allow("kms:Decrypt")))
    assert refused(user.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )


def test_iam_deny_counts_even_where_the_key_policy_names_the_user(world: World) -> None:
    user = world.a.user(deny("kms:Encrypt"))
    key = world.a.key(allow("kms:*", principal=user.arn), bypass=True)
    assert refused(user.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", key.arn, DENY_IN_IDENTITY_POLICY
    )
    assert user.kms().describe_key(KeyId=key.key_id)["KeyMetadata"]["Arn"] == key.arn


def test_root_user_gets_nothing_the_key_policy_does_not_give_the_account(world: World) -> None:
    user = world.a.user()
    key = world.a.key(allow("kms:*", principal=user.arn), bypass=True)
    root = world.a.root
    kms = world.a.kms()
    assert refused(kms.describe_key, KeyId=key.key_id) == denied(
        root.arn, "kms:DescribeKey", key.arn, NO_RESOURCE_POLICY
    )
    assert refused(kms.put_key_policy, KeyId=key.key_id, PolicyName="default", Policy=policy(KMS_ROOT)) == denied(
        root.arn, "kms:PutKeyPolicy", key.arn, NO_RESOURCE_POLICY
    )
    # The user the key policy names can hand the key back to the account (keeping their own access).
    keep = allow("kms:*", principal=user.arn)
    user.kms().put_key_policy(KeyId=key.key_id, PolicyName="default", Policy=policy(KMS_ROOT, keep))
    assert kms.describe_key(KeyId=key.key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_account_id_principal_delegates_like_the_root_arn(world: World) -> None:
    key = world.a.key(allow("kms:*", principal=ACCOUNT_A))
    user = world.a.user(allow("kms:Encrypt", key.arn))
    assert user.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    assert refused(user.kms().describe_key, KeyId=key.key_id) == denied(
        user.arn, "kms:DescribeKey", key.arn, NO_IDENTITY_POLICY
    )


def test_key_policy_statements_are_limited_to_their_actions_and_conditions(world: World) -> None:
    user = world.a.user(KMS_EVERYTHING)
    # The account is delegated Encrypt only: IAM's kms:* cannot widen it.
    key = world.a.key(
        allow("kms:Encrypt", principal=account_root(ACCOUNT_A)),
        allow("kms:*", principal=world.a.user().arn),
        bypass=True,
    )
    assert user.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    assert refused(user.kms().describe_key, KeyId=key.key_id) == denied(
        user.arn, "kms:DescribeKey", key.arn, NO_RESOURCE_POLICY
    )


def test_group_policies_reach_keys_through_the_delegation(world: World) -> None:
    key = world.a.key()
    group = unique("crypto")
    world.a.iam.create_group(GroupName=group)
    world.a.iam.put_group_policy(GroupName=group, PolicyName="use", PolicyDocument=policy(allow(USE, key.arn)))
    member = world.a.user(groups=[group])
    assert member.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    world.a.iam.remove_user_from_group(GroupName=group, UserName=member.name)
    assert refused(member.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        member.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )


def test_role_sessions_through_iam_and_through_the_key_policy(world: World) -> None:
    caller = world.a.user()
    key = world.a.key()
    with_policy = world.a.role(allow(USE, key.arn), trusted=caller.arn)
    session = assume(caller, with_policy, "with-policy")
    assert session.arn == f"arn:aws:sts::{ACCOUNT_A}:assumed-role/{with_policy.split('/')[-1]}/with-policy"
    assert session.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    assert refused(session.kms().disable_key, KeyId=key.key_id) == denied(
        session.arn, "kms:DisableKey", key.arn, NO_IDENTITY_POLICY
    )

    # A key policy naming the role (not the session) lets every session of it in, with no IAM policy.
    bare = world.a.role(trusted=caller.arn)
    named = world.a.key(KMS_ROOT, allow(USE, principal=bare))
    bare_session = assume(caller, bare, "bare")
    assert bare_session.kms().encrypt(KeyId=named.key_id, Plaintext=b"x")["KeyId"] == named.arn
    assert refused(bare_session.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        bare_session.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )


def test_key_policy_change_is_effective_for_the_next_request(world: World) -> None:
    user = world.a.user(allow("kms:Encrypt"))
    key = world.a.key()
    kms = user.kms()
    assert kms.encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    owner = world.a.kms()
    admin = world.a.user()
    owner.put_key_policy(
        KeyId=key.key_id,
        PolicyName="default",
        Policy=policy(allow("kms:*", principal=admin.arn)),
        BypassPolicyLockoutSafetyCheck=True,
    )
    assert refused(kms.encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY
    )
    restored = [KMS_ROOT, allow("kms:*", principal=admin.arn)]
    admin.kms().put_key_policy(KeyId=key.key_id, PolicyName="default", Policy=policy(*restored))
    assert kms.encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    stored = json.loads(owner.get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"])
    assert stored["Statement"] == restored


def test_key_policy_principal_star_admits_every_principal_of_the_account(world: World) -> None:
    # "Do not set the Principal to an asterisk": it gives every identity permission, with no IAM policy needed.
    key = world.a.key(KMS_ROOT, allow("kms:Encrypt", principal="*"))
    user = world.a.user()
    assert user.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    assert refused(user.kms().describe_key, KeyId=key.key_id) == denied(
        user.arn, "kms:DescribeKey", key.arn, NO_IDENTITY_POLICY
    )


def test_operations_on_star_need_only_iam(world: World) -> None:
    user = world.a.user()
    kms = user.kms(WEST)
    attempts: list[Attempt] = [
        ("kms:CreateKey", kms.create_key, {}),
        ("kms:ListKeys", kms.list_keys, {}),
        ("kms:ListAliases", kms.list_aliases, {}),
        ("kms:GenerateRandom", kms.generate_random, {"NumberOfBytes": 16}),
    ]
    for action, call, params in attempts:
        assert refused(call, **params) == denied(user.arn, action, "*", NO_IDENTITY_POLICY), action
    allowed = world.a.user(allow(["kms:CreateKey", "kms:ListKeys", "kms:ListAliases", "kms:GenerateRandom"]))
    created = allowed.kms().create_key()["KeyMetadata"]
    assert created["KeyId"] in {k["KeyId"] for k in allowed.kms().list_keys()["Keys"]}
    assert "Aliases" in allowed.kms().list_aliases()
    assert len(allowed.kms().generate_random(NumberOfBytes=16)["Plaintext"]) == 16
    # The new key has the default policy, which lets the account (and so the creator's IAM policy) decide.
    assert refused(allowed.kms().describe_key, KeyId=created["KeyId"]) == denied(
        allowed.arn, "kms:DescribeKey", created["Arn"], NO_IDENTITY_POLICY
    )
