"""Operations that need more than one permission, or a permission on something other than the named key.

"AWS KMS permissions" (the API permissions reference, AWS KMS Developer
Guide): ReEncrypt needs ``kms:ReEncryptFrom`` on the source key and
``kms:ReEncryptTo`` on the destination key; Decrypt is authorized against the
key that encrypted the ciphertext; CreateAlias and DeleteAlias need the
permission on the alias (IAM policy) and on the key (key policy); UpdateAlias
on the alias, the current key and the new key ("Controlling access to
aliases"); CreateKey with ``Tags`` also needs ``kms:TagResource``
("CreateKey", Required permissions).  Every key here has the default key
policy, so the user's IAM policy decides each part.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    NO_IDENTITY_POLICY,
    WEST,
    Key,
    World,
    allow,
    denied,
    enable_iam_policies,
    policy,
    refused,
    running_world,
    unique,
)
from tests.integration.stores import Stores

ALIASES = f"arn:aws:kms:{WEST}:{ACCOUNT_A}:alias/team-*"
ALL_KEYS = f"arn:aws:kms:{WEST}:{ACCOUNT_A}:key/*"


@dataclass(frozen=True)
class Pair:
    first: Key
    second: Key


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-operations")) as built:
        yield built


@pytest.fixture(scope="module")
def keys(world: World) -> Pair:
    return Pair(world.a.key(), world.a.key())


def alias_arn(name: str) -> str:
    return f"arn:aws:kms:{WEST}:{ACCOUNT_A}:{name}"


def test_re_encrypt_needs_from_on_the_source_and_to_on_the_destination(world: World, keys: Pair) -> None:
    user = world.a.user(allow("kms:ReEncryptFrom", keys.first.arn), allow("kms:ReEncryptTo", keys.second.arn))
    owner = world.a.kms()
    first_blob = owner.encrypt(KeyId=keys.first.key_id, Plaintext=b"move me")["CiphertextBlob"]
    second_blob = owner.encrypt(KeyId=keys.second.key_id, Plaintext=b"stay")["CiphertextBlob"]
    kms = user.kms()
    moved = kms.re_encrypt(CiphertextBlob=first_blob, DestinationKeyId=keys.second.key_id)
    assert (moved["SourceKeyId"], moved["KeyId"]) == (keys.first.arn, keys.second.arn)
    assert owner.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == b"move me"
    assert refused(kms.re_encrypt, CiphertextBlob=first_blob, DestinationKeyId=keys.first.key_id) == denied(
        user.arn, "kms:ReEncryptTo", keys.first.arn, NO_IDENTITY_POLICY
    )
    assert refused(kms.re_encrypt, CiphertextBlob=second_blob, DestinationKeyId=keys.second.key_id) == denied(
        user.arn, "kms:ReEncryptFrom", keys.second.arn, NO_IDENTITY_POLICY
    )
    # kms:ReEncrypt* names both actions.
    both = world.a.user(allow("kms:ReEncrypt*", [keys.first.arn, keys.second.arn]))
    assert both.kms().re_encrypt(CiphertextBlob=second_blob, DestinationKeyId=keys.first.key_id)["KeyId"] == (
        keys.first.arn
    )


def test_decrypt_is_authorized_against_the_key_in_the_ciphertext(world: World, keys: Pair) -> None:
    user = world.a.user(allow("kms:Decrypt", keys.first.arn))
    owner = world.a.kms()
    kms = user.kms()
    first_blob = owner.encrypt(KeyId=keys.first.key_id, Plaintext=b"one")["CiphertextBlob"]
    second_blob = owner.encrypt(KeyId=keys.second.key_id, Plaintext=b"two")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=first_blob)["Plaintext"] == b"one"
    assert kms.decrypt(CiphertextBlob=first_blob, KeyId=keys.first.arn)["Plaintext"] == b"one"
    assert refused(kms.decrypt, CiphertextBlob=second_blob) == denied(
        user.arn, "kms:Decrypt", keys.second.arn, NO_IDENTITY_POLICY
    )


def test_create_alias_needs_the_alias_and_the_key(world: World, keys: Pair) -> None:
    alias_only = world.a.user(allow("kms:CreateAlias", ALIASES))
    assert refused(alias_only.kms().create_alias, AliasName=unique("alias/team"), TargetKeyId=keys.first.key_id) == (
        denied(alias_only.arn, "kms:CreateAlias", keys.first.arn, NO_IDENTITY_POLICY)
    )
    key_only = world.a.user(allow("kms:CreateAlias", ALL_KEYS))
    name = unique("alias/team")
    assert refused(key_only.kms().create_alias, AliasName=name, TargetKeyId=keys.first.key_id) == denied(
        key_only.arn, "kms:CreateAlias", alias_arn(name), NO_IDENTITY_POLICY
    )
    both = world.a.user(allow("kms:CreateAlias", [ALIASES, ALL_KEYS]))
    both.kms().create_alias(AliasName=name, TargetKeyId=keys.first.key_id)
    other = unique("alias/other")
    assert refused(both.kms().create_alias, AliasName=other, TargetKeyId=keys.first.key_id) == denied(
        both.arn, "kms:CreateAlias", alias_arn(other), NO_IDENTITY_POLICY
    )
    listed = {a["AliasName"]: a.get("TargetKeyId") for a in world.a.kms().list_aliases()["Aliases"]}
    assert listed.get(name) == keys.first.key_id
    assert other not in listed


def test_alias_permission_comes_from_iam_even_when_the_key_policy_names_the_user(world: World) -> None:
    user = world.a.user()
    key = world.a.key(enable_iam_policies(ACCOUNT_A), allow(["kms:CreateAlias", "kms:DeleteAlias"], principal=user.arn))
    name = unique("alias/team")
    assert refused(user.kms().create_alias, AliasName=name, TargetKeyId=key.key_id) == denied(
        user.arn, "kms:CreateAlias", alias_arn(name), NO_IDENTITY_POLICY
    )
    world.a.iam.put_user_policy(
        UserName=user.name,
        PolicyName="aliases",
        PolicyDocument=policy(allow(["kms:CreateAlias", "kms:DeleteAlias"], ALIASES)),
    )
    user.kms().create_alias(AliasName=name, TargetKeyId=key.key_id)
    user.kms().delete_alias(AliasName=name)


def test_delete_alias_needs_the_alias_and_its_key(world: World, keys: Pair) -> None:
    name = unique("alias/team")
    world.a.kms().create_alias(AliasName=name, TargetKeyId=keys.second.key_id)
    alias_only = world.a.user(allow("kms:DeleteAlias", ALIASES))
    assert refused(alias_only.kms().delete_alias, AliasName=name) == denied(
        alias_only.arn, "kms:DeleteAlias", keys.second.arn, NO_IDENTITY_POLICY
    )
    both = world.a.user(allow("kms:DeleteAlias", [ALIASES, keys.second.arn]))
    both.kms().delete_alias(AliasName=name)
    assert name not in {a["AliasName"] for a in world.a.kms().list_aliases()["Aliases"]}


def test_update_alias_needs_the_alias_the_current_key_and_the_new_key(world: World, keys: Pair) -> None:
    name = unique("alias/team")
    world.a.kms().create_alias(AliasName=name, TargetKeyId=keys.first.key_id)
    current_only = world.a.user(allow("kms:UpdateAlias", [ALIASES, keys.first.arn]))
    assert refused(current_only.kms().update_alias, AliasName=name, TargetKeyId=keys.second.key_id) == denied(
        current_only.arn, "kms:UpdateAlias", keys.second.arn, NO_IDENTITY_POLICY
    )
    new_only = world.a.user(allow("kms:UpdateAlias", [ALIASES, keys.second.arn]))
    assert refused(new_only.kms().update_alias, AliasName=name, TargetKeyId=keys.second.key_id) == denied(
        new_only.arn, "kms:UpdateAlias", keys.first.arn, NO_IDENTITY_POLICY
    )
    keys_only = world.a.user(allow("kms:UpdateAlias", ALL_KEYS))
    assert refused(keys_only.kms().update_alias, AliasName=name, TargetKeyId=keys.second.key_id) == denied(
        keys_only.arn, "kms:UpdateAlias", alias_arn(name), NO_IDENTITY_POLICY
    )
    everything = world.a.user(allow("kms:UpdateAlias", [ALIASES, ALL_KEYS]))
    everything.kms().update_alias(AliasName=name, TargetKeyId=keys.second.key_id)
    target = {a["AliasName"]: a.get("TargetKeyId") for a in world.a.kms().list_aliases()["Aliases"]}[name]
    assert target == keys.second.key_id


def test_create_key_with_tags_also_needs_tag_resource(world: World) -> None:
    owner = world.a.kms()
    before = {k["KeyId"] for k in owner.get_paginator("list_keys").paginate().search("Keys")}
    creator = world.a.user(allow("kms:CreateKey"))
    tags = [{"TagKey": "team", "TagValue": "blue"}]
    assert refused(creator.kms().create_key, Tags=tags)[0] == "AccessDeniedException"
    assert {k["KeyId"] for k in owner.get_paginator("list_keys").paginate().search("Keys")} == before
    assert creator.kms().create_key()["KeyMetadata"]["KeyState"] == "Enabled"
    tagger = world.a.user(allow(["kms:CreateKey", "kms:TagResource"]))
    created = tagger.kms().create_key(Tags=tags)["KeyMetadata"]["KeyId"]
    assert owner.list_resource_tags(KeyId=created)["Tags"] == tags


def test_tag_permission_on_the_accounts_keys_covers_tags_on_create_key(world: World) -> None:
    # "Controlling access to tags": with these two statements "This combination allows the principals to use
    # the Tags parameter of the CreateKey operation to add tags to a CMK while they are creating it."
    creator = world.a.user(
        allow("kms:CreateKey", sid="IAMPolicyCreateKeys"),
        allow(
            ["kms:TagResource", "kms:UntagResource", "kms:ListResourceTags"],
            f"arn:aws:kms:*:{ACCOUNT_A}:key/*",
            sid="IAMPolicyTags",
        ),
    )
    tags = [{"TagKey": "Project", "TagValue": "Alpha"}]
    created = creator.kms().create_key(Tags=tags)["KeyMetadata"]["KeyId"]
    assert creator.kms().list_resource_tags(KeyId=created)["Tags"] == tags
    # Tag permission limited to another account's keys does not cover this account's new key.
    elsewhere = world.a.user(allow("kms:CreateKey"), allow("kms:TagResource", "arn:aws:kms:*:444455556666:key/*"))
    assert refused(elsewhere.kms().create_key, Tags=tags)[0] == "AccessDeniedException"


def test_aws_managed_alias_names_stay_reserved_even_for_root(world: World, keys: Pair) -> None:
    # "alias/aws/" is reserved for AWS managed keys (CreateAlias, AliasName).
    assert refused(world.a.kms().create_alias, AliasName="alias/aws/mine", TargetKeyId=keys.first.key_id)[0] == (
        "NotAuthorizedException"
    )
