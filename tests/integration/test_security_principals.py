"""Issue 9, items 7 and 3 (KMS): principals are the entities they name, not their names, through a real server.

Item 7: a user or role that is deleted and created again under the same name
is a new principal.  IAM User Guide, "AWS JSON policy elements: Principal":
an ARN of a user or role in a trust policy (and in a KMS key policy)
"transforms to the role's unique principal ID when you save the policy ...
If you delete the role, then you break the relationship ... the ARN appears
as the ID".  So the re-created user can neither use the key policy, nor the
grant, nor the trust policy that named the old one, and GetKeyPolicy, GetRole
and ListGrants show the old unique id in place of the ARN.  The attacks: the
ARN written with JSON escapes (``user\\/name``), inside a list, in several
statements, in another account's key policy.

Item 3 (KMS part): CreateGrant evaluates ``kms:GranteePrincipal`` and
``kms:RetiringPrincipal`` as the stored principal's ARN, so a Deny on
``user/adminX`` is not passed by naming ``user/ADMINX`` (IAM names are unique
regardless of case), and the grant stores the entity's own spelling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    DENY_IN_IDENTITY_POLICY,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    Account,
    Identity,
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

AIDA = re.compile(r"AIDA[A-Z0-9]{17}")
AROA = re.compile(r"AROA[A-Z0-9]{17}")
CRYPTO = ["kms:Encrypt", "kms:Decrypt"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("security-principals")) as built:
        yield built


def user_id_of(account: Account, name: str) -> str:
    return str(account.iam.get_user(UserName=name)["User"]["UserId"])


def delete_user(account: Account, user: Identity) -> None:
    """Delete ``user`` as IAM requires: access keys and inline policies first."""
    assert user.name is not None
    for key in account.iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]:
        account.iam.delete_access_key(UserName=user.name, AccessKeyId=key["AccessKeyId"])
    for name in account.iam.list_user_policies(UserName=user.name)["PolicyNames"]:
        account.iam.delete_user_policy(UserName=user.name, PolicyName=name)
    account.iam.delete_user(UserName=user.name)


def recreate(account: Account, user: Identity, *inline: dict[str, Any]) -> Identity:
    """Delete ``user`` and create a user of the same name (with ``inline`` statements) and a new access key."""
    delete_user(account, user)
    again = account.user(*inline, name=user.name)
    assert again.arn == user.arn
    return again


def principals_of(document: str | dict[str, Any]) -> list[str]:
    """Every ``AWS`` principal value of a policy, in order."""
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed["Statement"] if isinstance(parsed["Statement"], list) else [parsed["Statement"]]
    found: list[str] = []
    for statement in statements:
        for element in ("Principal", "NotPrincipal"):
            values = statement.get(element, {}).get("AWS", [])
            found.extend([values] if isinstance(values, str) else values)
    return found


# --- item 7: key policies ---------------------------------------------------------------------------


def test_a_recreated_user_does_not_inherit_the_key_policy(world: World) -> None:
    a = world.a
    user = a.user()
    bystander = a.user()
    # The user's ARN three times: escaped (`\/` is `/` once parsed), inside a list, and in a second statement.
    escaped = json.dumps(user.arn).replace("/", "\\/")
    text = (
        '{"Version":"2012-10-17","Statement":['
        + json.dumps(enable_iam_policies(ACCOUNT_A))
        + ',{"Sid":"escaped","Effect":"Allow","Principal":{"AWS":['
        + escaped
        + ","
        + json.dumps(bystander.arn)
        + ']},"Action":"kms:Encrypt","Resource":"*"},'
        + '{"Sid":"plain","Effect":"Allow","Principal":{"AWS":'
        + json.dumps(user.arn)
        + '},"Action":"kms:Decrypt","Resource":"*",'
        + '"Condition":{"StringEquals":{"aws:PrincipalArn":'
        + json.dumps(user.arn)
        + "}}}]}"
    )
    key_id = a.kms().create_key(Policy=text)["KeyMetadata"]["KeyId"]
    blob = user.kms().encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert user.kms().decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert user.name is not None
    old_id = user_id_of(a, user.name)

    again = recreate(a, user)

    key_arn = a.kms().describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert refused(again.kms().decrypt, CiphertextBlob=blob) == denied(
        again.arn, "kms:Decrypt", key_arn, NO_IDENTITY_POLICY
    )
    assert refused(again.kms().encrypt, KeyId=key_id, Plaintext=b"x")[0] == "AccessDeniedException"
    # GetKeyPolicy shows the old user's unique id wherever the policy named it as a principal; the
    # condition, which IAM does not transform, keeps the ARN.
    shown = a.kms().get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert principals_of(shown) == [account_root(ACCOUNT_A), old_id, bystander.arn, old_id]
    assert AIDA.fullmatch(old_id) and old_id != user_id_of(a, user.name)
    assert json.loads(shown)["Statement"][2]["Condition"] == {"StringEquals": {"aws:PrincipalArn": user.arn}}
    # The bystander named next to it keeps its access.
    assert bystander.kms().encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == key_arn
    # The old unique id cannot be put back: it names no principal that exists.
    assert refused(a.kms().put_key_policy, KeyId=key_id, PolicyName="default", Policy=shown) == (
        "MalformedPolicyDocumentException",
        "Policy contains a statement with one or more invalid principals.",
        400,
    )


def test_a_recreated_user_of_another_account_does_not_inherit_the_key_policy(world: World) -> None:
    a, b = world.a, world.b
    grant_all = allow(CRYPTO)
    user = b.user(grant_all)
    key = a.key(
        enable_iam_policies(ACCOUNT_A),
        allow(CRYPTO, principal=[user.arn]),
    )
    blob = user.kms().encrypt(KeyId=key.arn, Plaintext=b"cross")["CiphertextBlob"]
    assert user.name is not None
    old_id = user_id_of(b, user.name)

    again = recreate(b, user, grant_all)

    assert refused(again.kms().decrypt, CiphertextBlob=blob, KeyId=key.arn) == denied(
        again.arn, "kms:Decrypt", key.arn, NO_RESOURCE_POLICY
    )
    shown = a.kms().get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"]
    assert principals_of(shown) == [account_root(ACCOUNT_A), old_id]


def test_a_recreated_role_does_not_inherit_the_key_policy(world: World) -> None:
    a = world.a
    user = a.user(allow("sts:AssumeRole"))
    role_arn = a.role(trusted=user.arn)
    role_name = role_arn.rsplit("/", 1)[1]
    key = a.key(enable_iam_policies(ACCOUNT_A), allow(CRYPTO, principal=role_arn))
    blob = assume(user, role_arn).kms().encrypt(KeyId=key.key_id, Plaintext=b"role")["CiphertextBlob"]
    old_id = a.iam.get_role(RoleName=role_name)["Role"]["RoleId"]

    a.iam.delete_role(RoleName=role_name)
    trust = policy(allow("sts:AssumeRole", None, principal=user.arn))
    a.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)
    session = assume(user, role_arn)

    assert refused(session.kms().decrypt, CiphertextBlob=blob) == denied(
        session.arn, "kms:Decrypt", key.arn, NO_IDENTITY_POLICY
    )
    shown = a.kms().get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"]
    assert AROA.fullmatch(old_id)
    assert principals_of(shown) == [account_root(ACCOUNT_A), old_id]


def test_a_renamed_user_keeps_its_access_and_a_new_user_under_the_old_name_gets_none(world: World) -> None:
    # "Renaming an IAM user" (IAM User Guide): "Any resource or role policies that refer to the user as a
    # principal ... are automatically updated to use the new name or path."
    a = world.a
    user = a.user()
    key = a.key(enable_iam_policies(ACCOUNT_A), allow(CRYPTO, principal=user.arn))
    owner = a.kms()
    owner.create_grant(KeyId=key.key_id, GranteePrincipal=user.arn, Operations=["Encrypt"])
    blob = user.kms().encrypt(KeyId=key.key_id, Plaintext=b"renamed")["CiphertextBlob"]
    assert user.name is not None
    new_name = unique("renamed")
    a.iam.update_user(UserName=user.name, NewUserName=new_name, NewPath="/moved/")
    new_arn = a.iam.get_user(UserName=new_name)["User"]["Arn"]
    assert new_arn.endswith(f":user/moved/{new_name}")

    # The renamed user (same access key) keeps the key policy's access; the policy and the grant show its new ARN.
    assert user.kms().decrypt(CiphertextBlob=blob)["Plaintext"] == b"renamed"
    shown = owner.get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"]
    assert principals_of(shown) == [account_root(ACCOUNT_A), new_arn]
    assert [g["GranteePrincipal"] for g in owner.list_grants(KeyId=key.key_id)["Grants"]] == [new_arn]
    # A new user under the old name is not the principal the policy and the grant name.
    newcomer = a.user(name=user.name)
    assert newcomer.arn == user.arn
    assert refused(newcomer.kms().decrypt, CiphertextBlob=blob) == denied(
        newcomer.arn, "kms:Decrypt", key.arn, NO_IDENTITY_POLICY
    )
    assert refused(newcomer.kms().encrypt, KeyId=key.key_id, Plaintext=b"x")[0] == "AccessDeniedException"


# --- item 7: grants ----------------------------------------------------------------------------------


def test_a_recreated_user_does_not_inherit_a_grant(world: World) -> None:
    a = world.a
    user = a.user()
    key = a.key()
    owner = a.kms()
    grant_id = owner.create_grant(
        KeyId=key.key_id, GranteePrincipal=user.arn, RetiringPrincipal=user.arn, Operations=["Encrypt", "Decrypt"]
    )["GrantId"]
    blob = user.kms().encrypt(KeyId=key.key_id, Plaintext=b"granted")["CiphertextBlob"]
    assert user.kms().decrypt(CiphertextBlob=blob)["Plaintext"] == b"granted"
    assert user.name is not None
    old_id = user_id_of(a, user.name)

    again = recreate(a, user)

    assert refused(again.kms().decrypt, CiphertextBlob=blob)[0] == "AccessDeniedException"
    assert refused(again.kms().encrypt, KeyId=key.key_id, Plaintext=b"x")[0] == "AccessDeniedException"
    # Nor may it retire the grant as its retiring principal.
    assert refused(again.kms().retire_grant, KeyId=key.arn, GrantId=grant_id)[0] == "AccessDeniedException"
    (listed,) = owner.list_grants(KeyId=key.key_id)["Grants"]
    assert (listed["GrantId"], listed["GranteePrincipal"], listed["RetiringPrincipal"]) == (grant_id, old_id, old_id)
    assert owner.list_retirable_grants(RetiringPrincipal=user.arn)["Grants"] == []
    # A grant to the new user works as any grant does.
    owner.create_grant(KeyId=key.key_id, GranteePrincipal=again.arn, Operations=["Decrypt"])
    assert again.kms().decrypt(CiphertextBlob=blob)["Plaintext"] == b"granted"


# --- item 7: role trust policies ----------------------------------------------------------------------


def test_a_recreated_user_does_not_inherit_a_trust_policy(world: World) -> None:
    a = world.a
    assume_any = allow("sts:AssumeRole")
    user = a.user(assume_any)
    bystander = a.user(assume_any)
    role_name = unique("trusting")
    # The user in a list next to a bystander, escaped, and again in a second statement.
    escaped = json.dumps(user.arn).replace("/", "\\/")
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":['
        + json.dumps(bystander.arn)
        + ","
        + escaped
        + ']},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":'
        + json.dumps(user.arn)
        + '},"Action":"sts:AssumeRole"}]}'
    )
    role_arn = a.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    assume(user, role_arn)
    assert user.name is not None
    old_id = user_id_of(a, user.name)

    again = recreate(a, user, assume_any)

    error = refused(assume, again, role_arn)
    assert error[0] == "AccessDenied"
    assert f"User: {again.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in error[1]
    shown = a.iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert principals_of(shown) == [bystander.arn, old_id, old_id]
    assume(bystander, role_arn)


# --- item 3 (KMS): CreateGrant's principals are the stored entities ------------------------------------


def test_create_grant_conditions_see_the_stored_spelling_of_the_grantee(world: World) -> None:
    a = world.a
    admin = a.user(name=unique("adminX"))
    key = a.key()
    granter = a.user(
        allow("kms:CreateGrant"),
        deny("kms:CreateGrant", condition={"StringEquals": {"kms:GranteePrincipal": admin.arn}}),
        deny("kms:CreateGrant", condition={"StringEquals": {"kms:RetiringPrincipal": admin.arn}}),
    )
    other = a.user()
    shouted = admin.arn.rsplit("/", 1)[0] + "/" + admin.arn.rsplit("/", 1)[1].upper()
    assert shouted != admin.arn

    for grantee, retiring in ((shouted, other.arn), (other.arn, shouted)):
        params: dict[str, Any] = {"GranteePrincipal": grantee, "RetiringPrincipal": retiring}
        assert refused(granter.kms().create_grant, KeyId=key.arn, Operations=["Decrypt"], **params) == denied(
            granter.arn, "kms:CreateGrant", key.arn, DENY_IN_IDENTITY_POLICY
        )
    assert a.kms().list_grants(KeyId=key.key_id)["Grants"] == []

    # Allowed, the grant names the user as IAM stores it, and the condition key saw that spelling.
    owner = a.kms()
    owner.create_grant(KeyId=key.key_id, GranteePrincipal=shouted, RetiringPrincipal=shouted, Operations=["Decrypt"])
    (listed,) = owner.list_grants(KeyId=key.key_id)["Grants"]
    assert (listed["GranteePrincipal"], listed["RetiringPrincipal"]) == (admin.arn, admin.arn)


def test_a_key_policy_principal_must_be_spelled_as_stored(world: World) -> None:
    # kmsd compares principals exactly; a key policy may only name a user as IAM stores it, so no
    # statement (Allow or Deny) can be written that names the user yet fails to match it.
    a = world.a
    user = a.user(name=unique("mixedCase"))
    shouted = user.arn.rsplit("/", 1)[0] + "/" + user.arn.rsplit("/", 1)[1].upper()
    statements = (enable_iam_policies(ACCOUNT_A), deny("kms:*", principal=shouted))
    assert refused(a.kms().create_key, Policy=policy(*statements)) == (
        "MalformedPolicyDocumentException",
        "Policy contains a statement with one or more invalid principals.",
        400,
    )
