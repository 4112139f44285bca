"""A key of account A used by principals of account B.

AWS KMS Developer Guide, "Allowing users in other accounts to use a KMS key": "the key policy for the
KMS key must give the external account (or users and roles in the external account) permission to use
the KMS key" and "IAM policies in the external account must delegate the key policy permissions to its
users and roles"; "Cross-account use" in the permissions reference says which operations may cross.
"""

from __future__ import annotations

import json

from .conftest import (
    REGION,
    A,
    B,
    World,
    access_denied,
    allow,
    aws_error,
    denial,
    key_statement,
    no_identity_policy,
    no_resource_policy,
    policy,
    root_arn,
)


def shared_key(world: World, *principals: str) -> dict:  # type: ignore[type-arg]
    return world.key(policy(key_statement(root_arn(A)), key_statement(list(principals), "kms:*")))


def test_the_key_policy_must_allow_the_other_account_and_its_iam_policy_must_allow_the_caller(world: World) -> None:
    key = shared_key(world, B)
    user = world.user("bob", allow(["kms:Encrypt", "kms:DescribeKey"], key["Arn"]), account=B)
    world.kms(user)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")
    world.kms(user)("DescribeKey", KeyId=key["Arn"])
    bare = world.user("bare", account=B)
    with access_denied(denial(bare.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        world.kms(bare)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")


def test_an_iam_policy_in_the_other_account_is_not_enough(world: World) -> None:
    key = world.key()
    user = world.user("bob", allow("kms:*"), account=B)
    with access_denied(denial(user.principal.arn, "kms:Encrypt", key["Arn"], no_resource_policy("kms:Encrypt"))):
        world.kms(user)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")


def test_a_key_policy_naming_the_other_accounts_user_still_needs_its_iam_policy(world: World) -> None:
    # Cross-account, the caller's own account must allow the call too, even when the key policy names it.
    named = world.user("carol", account=B)
    key = shared_key(world, named.principal.arn)
    with access_denied(denial(named.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        world.kms(named)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")
    allowed = world.user("carol", allow("kms:Encrypt"), account=B)
    world.kms(allowed)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")


def test_the_other_accounts_root_user_needs_only_the_key_policy(world: World) -> None:
    key = shared_key(world, root_arn(B))
    world.kms(world.root(B))("Encrypt", KeyId=key["Arn"], Plaintext=b"x")
    private = world.key()
    reason = no_resource_policy("kms:Encrypt")
    with access_denied(denial(root_arn(B), "kms:Encrypt", private["Arn"], reason)):
        world.kms(world.root(B))("Encrypt", KeyId=private["Arn"], Plaintext=b"x")


def test_a_key_of_another_account_is_reached_only_by_arn(world: World) -> None:
    key = shared_key(world, B)
    world.kms()("CreateAlias", AliasName="alias/shared", TargetKeyId=key["KeyId"])
    other = world.kms(world.root(B))
    alias_arn = f"arn:aws:kms:{REGION}:{A}:alias/shared"
    assert other("Encrypt", KeyId=alias_arn, Plaintext=b"x")["KeyId"] == key["Arn"]
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{B}:key/{key['KeyId']}' does not exist"):
        other("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    with aws_error("NotFoundException", f"Alias arn:aws:kms:{REGION}:{B}:alias/shared is not found."):
        other("Encrypt", KeyId="alias/shared", Plaintext=b"x")


def test_a_missing_key_of_another_account_is_not_found(world: World) -> None:
    missing = f"arn:aws:kms:{REGION}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with aws_error("NotFoundException", f"Key '{missing}' does not exist"):
        world.kms(world.root(B))("DescribeKey", KeyId=missing)


def test_operations_that_cannot_cross_accounts_do_not_even_when_the_key_policy_allows(world: World) -> None:
    # Permissions reference: "If you give a principal in a different account a permission that cannot be
    # used cross-account, the permission is not effective."
    key = shared_key(world, B)
    other = world.kms(world.root(B))
    for operation in ("DisableKey", "ScheduleKeyDeletion", "GetKeyPolicy", "TagResource"):
        params = {"Tags": [{"TagKey": "a", "TagValue": "b"}]} if operation == "TagResource" else {}
        with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{B}:key/{key['KeyId']}' does not exist"):
            other(operation, KeyId=key["Arn"], **params)
    assert world.kms()("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_listing_never_shows_another_accounts_keys_or_aliases(world: World) -> None:
    key = shared_key(world, B)
    world.kms()("CreateAlias", AliasName="alias/shared", TargetKeyId=key["KeyId"])
    other = world.kms(world.root(B))
    assert other("ListKeys")["Keys"] == []
    # Only the predefined alias/aws/ aliases every account lists, none of A's.
    assert all(entry["AliasName"].startswith("alias/aws/") for entry in other("ListAliases")["Aliases"])


def test_grants_cross_accounts(world: World) -> None:
    # CreateGrant "Cross-account use: Yes"; the grantee may be in any account.
    key = shared_key(world, B)
    granter = world.user("granter", allow(["kms:CreateGrant", "kms:ListGrants"], key["Arn"]), account=B)
    grantee = world.user("grantee", account=B)
    grant = world.kms(granter)(
        "CreateGrant", KeyId=key["Arn"], GranteePrincipal=grantee.principal.arn, Operations=["Encrypt"]
    )
    assert grant["GrantId"]
    # The grant alone lets the grantee use the key.
    world.kms(grantee)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")
    listed = world.kms(granter)("ListGrants", KeyId=key["Arn"])["Grants"]
    assert [entry["GrantId"] for entry in listed] == [grant["GrantId"]]


def test_a_cross_account_caller_decrypts_what_it_encrypted(world: World) -> None:
    key = shared_key(world, B)
    user = world.user("bob", allow(["kms:Encrypt", "kms:Decrypt"], f"arn:aws:kms:*:{A}:key/*"), account=B)
    blob = world.kms(user)("Encrypt", KeyId=key["Arn"], Plaintext=b"x")["CiphertextBlob"]
    assert world.kms(user)("Decrypt", CiphertextBlob=blob)["Plaintext"] == b"x"
    world.kms()("PutKeyPolicy", KeyId=key["KeyId"], Policy=json.dumps(policy(key_statement(root_arn(A)))))
    reason = no_resource_policy("kms:Decrypt")
    with access_denied(denial(user.principal.arn, "kms:Decrypt", key["Arn"], reason)):
        world.kms(user)("Decrypt", CiphertextBlob=blob)
