"""The KeyId forms each operation accepts, through boto3 against a real ``kmsd serve`` (issue 11): the
operations whose API reference lists only key id and key ARN refuse alias names and alias ARNs with
AWS's InvalidArnException before anything is authorized; the others accept all four spellings, for the
caller's own keys, for grantees and across accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.authz_world import (
    NO_IDENTITY_POLICY,
    WEST,
    World,
    allow,
    denied,
    enable_iam_policies,
    refused,
    running_world,
)
from tests.integration.stores import Stores

ALIASES_REFUSED = ("InvalidArnException", "Key Aliases are not supported for this operation.", 400)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("kms-key-id-forms")) as built:
        yield built


def spellings(world: World, key_id: str, alias: str) -> dict[str, str]:
    account = world.a.account_id
    return {
        "key id": key_id,
        "key ARN": f"arn:aws:kms:{WEST}:{account}:key/{key_id}",
        "alias name": alias,
        "alias ARN": f"arn:aws:kms:{WEST}:{account}:{alias}",
    }


def test_key_only_operations_refuse_both_alias_spellings(world: World) -> None:
    kms = world.a.kms()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/forms-key-only", TargetKeyId=key_id)
    forms = spellings(world, key_id, "alias/forms-key-only")
    calls: list[tuple[Any, dict[str, Any]]] = [
        (kms.enable_key_rotation, {}),
        (kms.get_key_rotation_status, {}),
        (kms.get_key_policy, {"PolicyName": "default"}),
        (kms.list_key_policies, {}),
        (kms.list_resource_tags, {}),
        (kms.tag_resource, {"Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        (kms.untag_resource, {"TagKeys": ["k"]}),
        (kms.update_key_description, {"Description": "d"}),
        (kms.list_grants, {}),
        (kms.get_key_last_usage, {}),
        (kms.schedule_key_deletion, {"PendingWindowInDays": 7}),
        (kms.cancel_key_deletion, {}),
        (kms.disable_key, {}),
        (kms.enable_key, {}),
    ]
    for call, params in calls:
        for form in ("alias name", "alias ARN"):
            assert refused(call, KeyId=forms[form], **params) == ALIASES_REFUSED, (call, form)
    # The whole round (deletion scheduled and cancelled, the key disabled and enabled again) once per key spelling.
    for form in ("key id", "key ARN"):
        for call, params in calls:
            call(KeyId=forms[form], **params)


def test_an_alias_is_refused_before_the_call_is_authorized(world: World) -> None:
    key = world.a.key(enable_iam_policies(world.a.account_id))
    world.a.kms().create_alias(AliasName="alias/forms-order", TargetKeyId=key.key_id)
    nobody = world.a.user()
    assert refused(nobody.kms().get_key_policy, KeyId="alias/forms-order", PolicyName="default") == ALIASES_REFUSED
    assert refused(nobody.kms().get_key_policy, KeyId=key.key_id, PolicyName="default") == denied(
        nobody.arn, "kms:GetKeyPolicy", key.arn, NO_IDENTITY_POLICY
    )


def test_cryptographic_operations_and_describe_key_take_all_four(world: World) -> None:
    kms = world.a.kms()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/forms-all", TargetKeyId=key_id)
    for form, spelling in spellings(world, key_id, "alias/forms-all").items():
        assert kms.describe_key(KeyId=spelling)["KeyMetadata"]["KeyId"] == key_id, form
        blob = kms.encrypt(KeyId=spelling, Plaintext=b"four")["CiphertextBlob"]
        assert kms.decrypt(KeyId=spelling, CiphertextBlob=blob)["Plaintext"] == b"four", form
        kms.generate_data_key(KeyId=spelling, KeySpec="AES_256")
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=spelling, DestinationKeyId=spelling)


def test_alias_targets_and_grant_keys_take_keys_only(world: World) -> None:
    kms = world.a.kms()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/forms-target", TargetKeyId=key_id)
    assert refused(kms.create_alias, AliasName="alias/forms-second", TargetKeyId="alias/forms-target") == (
        "ValidationException",
        "Aliases must refer to keys. Not aliases",
        400,
    )
    assert refused(kms.update_alias, AliasName="alias/forms-target", TargetKeyId="alias/forms-target")[0] == (
        "ValidationException"
    )
    assert refused(kms.list_aliases, KeyId="alias/forms-target")[0] == "ValidationException"
    grantee = world.a.user()
    assert (
        refused(kms.create_grant, KeyId="alias/forms-target", GranteePrincipal=grantee.arn, Operations=["Encrypt"])
        == ALIASES_REFUSED
    )


def test_a_grantee_may_name_the_key_by_alias(world: World) -> None:
    kms = world.a.kms()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/forms-grant", TargetKeyId=key_id)
    grantee = world.a.user(allow("kms:ListAliases"))
    kms.create_grant(KeyId=key_id, GranteePrincipal=grantee.arn, Operations=["Encrypt", "DescribeKey"])
    assert grantee.kms().describe_key(KeyId="alias/forms-grant")["KeyMetadata"]["KeyId"] == key_id
    assert grantee.kms().encrypt(KeyId="alias/forms-grant", Plaintext=b"granted")["KeyId"].endswith(key_id)


def test_another_account_names_a_key_by_key_arn_or_alias_arn(world: World) -> None:
    owner, other = world.a, world.b
    key = owner.key(
        enable_iam_policies(owner.account_id),
        allow(["kms:Encrypt", "kms:DescribeKey"], principal=f"arn:aws:iam::{other.account_id}:root"),
    )
    owner.kms().create_alias(AliasName="alias/forms-shared", TargetKeyId=key.key_id)
    alias_arn = f"arn:aws:kms:{WEST}:{owner.account_id}:alias/forms-shared"
    assert other.kms().describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == key.key_id
    assert other.kms().encrypt(KeyId=key.arn, Plaintext=b"shared")["KeyId"] == key.arn
