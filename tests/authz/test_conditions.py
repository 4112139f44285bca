"""Condition keys in KMS requests, each with an allowed and a denied case ("AWS KMS condition keys").

Encryption context (kms:EncryptionContext:<key>, kms:EncryptionContextKeys), kms:ViaService (set only
by the trusted service header), aws:SourceIp, kms:CallerAccount, aws:PrincipalTag / aws:ResourceTag
(attribute-based access, "ABAC for AWS KMS"), kms:RequestAlias, kms:ResourceAliases,
kms:EncryptionAlgorithm, kms:GrantOperations, kms:BypassPolicyLockoutSafetyCheck, aws:RequestTag /
aws:TagKeys, kms:ReEncryptOnSameKey, kms:ScheduleKeyDeletionPendingWindowInDays.
"""

from __future__ import annotations

from .conftest import (
    A,
    B,
    World,
    access_denied,
    allow,
    denial,
    deny,
    key_statement,
    no_identity_policy,
    no_resource_policy,
    policy,
    root_arn,
)


def keyed_for(world: World, principal: str, action: str | list[str], condition: dict) -> dict:  # type: ignore[type-arg]
    """A key whose policy delegates to the account and allows ``principal`` ``action`` under ``condition``."""
    return world.key(policy(key_statement(root_arn()), key_statement(principal, action, Condition=condition)))


def test_encryption_context_value(world: World) -> None:
    # "kms:EncryptionContext:context-key": the key name is not case sensitive, the value is (StringEquals).
    alice = world.user("alice")
    key = keyed_for(world, alice.principal.arn, "kms:Encrypt", {"StringEquals": {"kms:EncryptionContext:App": "pay"}})
    kms = world.kms(alice)
    kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "pay", "other": "1"})
    reason = no_identity_policy("kms:Encrypt")
    for context in ({"app": "PAY"}, {}, {"other": "pay"}):
        with access_denied(denial(alice.principal.arn, "kms:Encrypt", key["Arn"], reason)):
            kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=context)


def test_encryption_context_keys(world: World) -> None:
    alice = world.user("alice")
    condition = {
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app"]},
        "Null": {"kms:EncryptionContextKeys": "false"},
    }
    key = keyed_for(world, alice.principal.arn, "kms:GenerateDataKey", condition)
    kms = world.kms(alice)
    kms("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"app": "x"})
    reason = no_identity_policy("kms:GenerateDataKey")
    for context in ({"app": "x", "extra": "y"}, {}):
        with access_denied(denial(alice.principal.arn, "kms:GenerateDataKey", key["Arn"], reason)):
            kms("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=context)


def test_via_service_comes_only_from_the_trusted_service_header(world: World) -> None:
    alice = world.user("alice")
    via = "ec2.us-west-2.amazonaws.com"
    key = keyed_for(world, alice.principal.arn, "kms:Encrypt", {"StringEquals": {"kms:ViaService": via}})
    world.kms(alice).via(via)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    reason = no_identity_policy("kms:Encrypt")
    with access_denied(denial(alice.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(alice)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    with access_denied(denial(alice.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(alice).via("rds.us-west-2.amazonaws.com")("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_source_ip(world: World) -> None:
    key = world.key()
    statement = allow("kms:Encrypt", key["Arn"], Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    inside = world.user("inside", statement, source_ip="10.1.2.3")
    world.kms(inside)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    outside = world.user("inside", statement, source_ip="127.0.0.1")
    reason = no_identity_policy("kms:Encrypt")
    with access_denied(denial(outside.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(outside)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_caller_account(world: World) -> None:
    key = world.key(
        policy(
            key_statement(root_arn()),
            key_statement("*", "kms:DescribeKey", Condition={"StringEquals": {"kms:CallerAccount": A}}),
        )
    )
    world.kms(world.user("mine"))("DescribeKey", KeyId=key["KeyId"])
    theirs = world.user("theirs", allow("kms:DescribeKey"), account=B)
    reason = no_resource_policy("kms:DescribeKey")
    with access_denied(denial(theirs.principal.arn, "kms:DescribeKey", key["Arn"], reason)):
        world.kms(theirs)("DescribeKey", KeyId=key["Arn"])


def test_principal_tag_and_resource_tag(world: World) -> None:
    # "ABAC for AWS KMS": allow use of keys whose tag matches the caller's tag.
    statement = allow(
        "kms:Encrypt",
        f"arn:aws:kms:*:{A}:key/*",
        Condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
    )
    blue = world.user("blue", statement, tags={"team": "blue"})
    blue_key = world.key(Tags=[{"TagKey": "team", "TagValue": "blue"}])
    red_key = world.key(Tags=[{"TagKey": "team", "TagValue": "red"}])
    world.kms(blue)("Encrypt", KeyId=blue_key["KeyId"], Plaintext=b"x")
    reason = no_identity_policy("kms:Encrypt")
    with access_denied(denial(blue.principal.arn, "kms:Encrypt", red_key["Arn"], reason)):
        world.kms(blue)("Encrypt", KeyId=red_key["KeyId"], Plaintext=b"x")


def test_a_resource_tag_change_is_effective_for_the_next_request(world: World) -> None:
    user = world.user("tagged", allow("kms:Encrypt", Condition={"StringEquals": {"aws:ResourceTag/stage": "test"}}))
    key = world.key(Tags=[{"TagKey": "stage", "TagValue": "test"}])
    world.kms(user)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    world.kms()("TagResource", KeyId=key["KeyId"], Tags=[{"TagKey": "stage", "TagValue": "prod"}])
    with access_denied(denial(user.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        world.kms(user)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_request_alias(world: World) -> None:
    # kms:RequestAlias: "the value of the KeyId parameter in the request must be a matching alias name or
    # alias ARN"; another identifier of the same key does not satisfy it.
    alice = world.user("alice")
    condition = {"StringEquals": {"kms:RequestAlias": "alias/finance"}}
    key = keyed_for(world, alice.principal.arn, "kms:GenerateDataKey", condition)
    world.kms()("CreateAlias", AliasName="alias/finance", TargetKeyId=key["KeyId"])
    kms = world.kms(alice)
    kms("GenerateDataKey", KeyId="alias/finance", KeySpec="AES_128")
    kms("GenerateDataKey", KeyId=f"arn:aws:kms:us-west-2:{A}:alias/finance", KeySpec="AES_128")
    reason = no_identity_policy("kms:GenerateDataKey")
    with access_denied(denial(alice.principal.arn, "kms:GenerateDataKey", key["Arn"], reason)):
        kms("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_128")


def test_resource_aliases(world: World) -> None:
    statement = allow(
        "kms:DescribeKey", Condition={"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/project-*"}}
    )
    user = world.user("abac", statement)
    named, unnamed = world.key(), world.key()
    world.kms()("CreateAlias", AliasName="alias/project-alpha", TargetKeyId=named["KeyId"])
    world.kms(user)("DescribeKey", KeyId=named["KeyId"])
    reason = no_identity_policy("kms:DescribeKey")
    with access_denied(denial(user.principal.arn, "kms:DescribeKey", unnamed["Arn"], reason)):
        world.kms(user)("DescribeKey", KeyId=unnamed["KeyId"])
    # Moving the alias away takes the permission with it, at once.
    world.kms()("UpdateAlias", AliasName="alias/project-alpha", TargetKeyId=unnamed["KeyId"])
    world.kms(user)("DescribeKey", KeyId=unnamed["KeyId"])
    with access_denied(denial(user.principal.arn, "kms:DescribeKey", named["Arn"], reason)):
        world.kms(user)("DescribeKey", KeyId=named["KeyId"])


def test_encryption_algorithm(world: World) -> None:
    user = world.user(
        "algo",
        allow("kms:Encrypt"),
        deny("kms:Encrypt", Condition={"StringNotEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}}),
    )
    key = world.key()
    world.kms(user)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    reason = "with an explicit deny in an identity-based policy"
    with access_denied(denial(user.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(user)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_grant_operations(world: World) -> None:
    condition = {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "ReEncryptTo"]}}
    user = world.user("granter", allow("kms:CreateGrant", Condition=condition))
    key = world.key()
    grantee = world.user("grantee").principal.arn
    world.kms(user)("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Encrypt"])
    reason = no_identity_policy("kms:CreateGrant")
    with access_denied(denial(user.principal.arn, "kms:CreateGrant", key["Arn"], reason)):
        world.kms(user)("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"])


def test_bypass_policy_lockout_safety_check(world: World) -> None:
    # "kms:BypassPolicyLockoutSafetyCheck": deny bypassing the lockout check.
    careful = world.user(
        "careful",
        allow(["kms:CreateKey", "kms:PutKeyPolicy"]),
        deny("kms:CreateKey", Condition={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}}),
    )
    world.kms(careful)("CreateKey")
    reason = "with an explicit deny in an identity-based policy"
    with access_denied(denial(careful.principal.arn, "kms:CreateKey", "*", reason)):
        world.kms(careful)("CreateKey", BypassPolicyLockoutSafetyCheck=True)


def test_request_tags_on_create_key(world: World) -> None:
    statement = allow(
        ["kms:CreateKey", "kms:TagResource", "kms:PutKeyPolicy"],
        Condition={"StringEquals": {"aws:RequestTag/owner": "${aws:username}"}},
    )
    user = world.user("owner", statement)
    world.kms(user)("CreateKey", Tags=[{"TagKey": "owner", "TagValue": "owner"}])
    reason = no_identity_policy("kms:CreateKey")
    with access_denied(denial(user.principal.arn, "kms:CreateKey", "*", reason)):
        world.kms(user)("CreateKey", Tags=[{"TagKey": "owner", "TagValue": "someone-else"}])


def test_tag_keys_on_untag_resource(world: World) -> None:
    key = world.key(Tags=[{"TagKey": "keep", "TagValue": "1"}, {"TagKey": "temp", "TagValue": "2"}])
    user = world.user(
        "untagger", allow("kms:UntagResource", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": "temp"}})
    )
    world.kms(user)("UntagResource", KeyId=key["KeyId"], TagKeys=["temp"])
    reason = no_identity_policy("kms:UntagResource")
    with access_denied(denial(user.principal.arn, "kms:UntagResource", key["Arn"], reason)):
        world.kms(user)("UntagResource", KeyId=key["KeyId"], TagKeys=["keep"])


def test_re_encrypt_on_same_key(world: World) -> None:
    user = world.user("rotator", allow("kms:ReEncrypt*", Condition={"Bool": {"kms:ReEncryptOnSameKey": "true"}}))
    key, other = world.key(), world.key()
    blob = world.kms()("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    world.kms(user)("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=key["KeyId"])
    reason = no_identity_policy("kms:ReEncryptFrom")
    with access_denied(denial(user.principal.arn, "kms:ReEncryptFrom", key["Arn"], reason)):
        world.kms(user)("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=other["KeyId"])


def test_pending_window_in_days(world: World) -> None:
    condition = {"NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "21"}}
    user = world.user("deleter", allow("kms:ScheduleKeyDeletion", Condition=condition))
    key = world.key()
    reason = no_identity_policy("kms:ScheduleKeyDeletion")
    with access_denied(denial(user.principal.arn, "kms:ScheduleKeyDeletion", key["Arn"], reason)):
        world.kms(user)("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    # Without PendingWindowInDays the default, 30 days, is the value the condition sees.
    assert world.kms(user)("ScheduleKeyDeletion", KeyId=key["KeyId"])["PendingWindowInDays"] == 30
