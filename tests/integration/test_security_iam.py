"""Issue 9, items 3, 4, 13 and 17: IAM and STS attacked from outside, through a real ``kmsd serve`` and boto3.

- Item 3: a caller allowed ``iam:*`` but denied one user, group or role
  cannot reach it by spelling its name in another case (IAM names are unique
  whatever their case, and AWS authorizes the entity acted on), nor by
  renaming another entity onto a protected name.
- Item 4: IAM actions carry the condition keys AWS's service authorization
  reference lists for them: the resource's tags (``aws:ResourceTag/*``,
  ``iam:ResourceTag/*``), ``aws:RequestTag/*``, ``aws:TagKeys``,
  ``iam:PermissionsBoundary``, ``iam:PolicyARN``; AssumeRole carries the
  role's tags and ``sts:SourceIdentity``.  Each family has an allow case and a
  deny case.
- Item 13: AssumeRole with ``SourceIdentity`` needs ``sts:SetSourceIdentity``
  in the trust policy; the value is kept in the session, is
  ``aws:SourceIdentity`` for IAM policies and KMS key policies, and survives
  role chaining unchanged.
- Item 17: AssumeRole's managed session policies must exist in the role's
  account (or be AWS managed).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.helpers.aws_errors import error_from
from tests.helpers.clients import client, session_client, unique, user_with_key
from tests.helpers.documents import allow, policy, trust
from tests.integration.server import KmsdServer

ACCOUNT = "000000000000"
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def deny(*actions: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": list(actions), "Resource": resource, **extra}


def explicit_deny(caller_arn: str, action: str, resource: str) -> tuple[str, str, int]:
    return (
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource} "
        "with an explicit deny in an identity-based policy",
        403,
    )


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


@pytest.fixture
def iam(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    return client(server, "iam", root_credentials)


def attacker(server: KmsdServer, iam: Any, *statements: dict[str, Any]) -> tuple[str, Any]:
    """A user allowed ``iam:*`` and ``sts:*`` except what ``statements`` deny; its ARN and IAM client."""
    name, credentials = user_with_key(iam)
    document = policy(allow("iam:*", "sts:*"), *statements)
    iam.put_user_policy(UserName=name, PolicyName="attacker", PolicyDocument=document)
    return user_arn(name), client(server, "iam", credentials)


# --- item 3: another spelling of a name ---------------------------------------------------------


def test_create_access_key_for_another_spelling_of_a_denied_user(server: KmsdServer, iam: Any) -> None:
    admin = unique("admin")
    iam.create_user(UserName=admin)
    arn, own = attacker(server, iam, deny("iam:*", resource=user_arn(admin)))
    for spelling in (admin.upper(), admin.title(), admin):
        assert error_from(own.create_access_key, UserName=spelling) == explicit_deny(
            arn, "iam:CreateAccessKey", user_arn(admin)
        )
        assert error_from(own.attach_user_policy, UserName=spelling, PolicyArn=ADMIN_ACCESS) == explicit_deny(
            arn, "iam:AttachUserPolicy", user_arn(admin)
        )
    assert iam.list_access_keys(UserName=admin)["AccessKeyMetadata"] == []
    assert iam.list_attached_user_policies(UserName=admin)["AttachedPolicies"] == []


def test_add_user_to_another_spelling_of_a_denied_group(server: KmsdServer, iam: Any) -> None:
    group = unique("admins")
    group_arn = iam.create_group(GroupName=group, Path="/ops/")["Group"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=ADMIN_ACCESS)
    arn, own = attacker(server, iam, deny("iam:*", resource=group_arn))
    name = arn.rsplit("/", 1)[1]
    assert error_from(own.add_user_to_group, GroupName=group.upper(), UserName=name) == explicit_deny(
        arn, "iam:AddUserToGroup", group_arn
    )
    assert iam.get_group(GroupName=group)["Users"] == []


def test_update_assume_role_policy_of_another_spelling_of_a_denied_role(server: KmsdServer, iam: Any) -> None:
    role = unique("prod")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(f"arn:aws:iam::{ACCOUNT}:root")))[
        "Role"
    ]["Arn"]
    arn, own = attacker(server, iam, deny("iam:*", resource=role_arn))
    opened = policy(trust(arn))
    assert error_from(own.update_assume_role_policy, RoleName=role.upper(), PolicyDocument=opened) == explicit_deny(
        arn, "iam:UpdateAssumeRolePolicy", role_arn
    )
    assert error_from(
        own.put_role_policy, RoleName=role.swapcase(), PolicyName="p", PolicyDocument=policy(allow("*"))
    ) == explicit_deny(arn, "iam:PutRolePolicy", role_arn)
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == json.loads(
        policy(trust(f"arn:aws:iam::{ACCOUNT}:root"))
    )


def test_renaming_needs_permission_on_the_new_name_too(server: KmsdServer, iam: Any) -> None:
    victim = unique("vip")
    arn, own = attacker(server, iam, deny("iam:*", resource=f"arn:aws:iam::{ACCOUNT}:user/vip*"))
    bob = unique("bob")
    iam.create_user(UserName=bob)
    # IAM API Reference, UpdateUser: "the requester must have appropriate permissions on both the
    # source object and the target object".
    assert error_from(own.update_user, UserName=bob, NewUserName=victim) == explicit_deny(
        arn, "iam:UpdateUser", user_arn(victim)
    )
    assert error_from(own.update_user, UserName=bob, NewPath="/vip/") == explicit_deny(
        arn, "iam:UpdateUser", f"arn:aws:iam::{ACCOUNT}:user/vip/{bob}"
    )
    group = unique("g")
    iam.create_group(GroupName=group)
    arn2, own2 = attacker(server, iam, deny("iam:*", resource=f"arn:aws:iam::{ACCOUNT}:group/vip*"))
    assert error_from(own2.update_group, GroupName=group, NewGroupName=f"vip-{group}") == explicit_deny(
        arn2, "iam:UpdateGroup", f"arn:aws:iam::{ACCOUNT}:group/vip-{group}"
    )
    # Allowed on both names: the rename goes through.
    own.update_user(UserName=bob, NewUserName=f"{bob}-2")
    assert iam.get_user(UserName=f"{bob}-2")["User"]["UserName"] == f"{bob}-2"


def test_assume_role_by_another_spelling_of_its_arn_is_refused(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    role = unique("prod")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(user_arn(name))))["Role"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(deny("sts:AssumeRole", resource=role_arn)))
    sts = client(server, "sts", credentials)
    other_spelling = role_arn.replace(role, role.upper())
    code, _, status = error_from(sts.assume_role, RoleArn=other_spelling, RoleSessionName="s1")
    assert (code, status) == ("AccessDenied", 403)
    assert error_from(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1") == (
        "AccessDenied",
        f"User: {user_arn(name)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )


# --- item 4: condition keys of IAM actions ------------------------------------------------------

PROTECTED = {"StringEquals": {"aws:ResourceTag/protected": "true"}}


def test_resource_tags_of_users_protect_them(server: KmsdServer, iam: Any) -> None:
    guarded, plain = unique("guarded"), unique("plain")
    iam.create_user(UserName=guarded, Tags=[{"Key": "protected", "Value": "true"}])
    iam.create_user(UserName=plain, Tags=[{"Key": "protected", "Value": "false"}])
    arn, own = attacker(server, iam, deny("iam:*", Condition=PROTECTED))
    assert error_from(own.create_access_key, UserName=guarded.upper()) == explicit_deny(
        arn, "iam:CreateAccessKey", user_arn(guarded)
    )
    assert error_from(own.untag_user, UserName=guarded, TagKeys=["protected"]) == explicit_deny(
        arn, "iam:UntagUser", user_arn(guarded)
    )
    assert iam.list_access_keys(UserName=guarded)["AccessKeyMetadata"] == []
    assert iam.list_user_tags(UserName=guarded)["Tags"] == [{"Key": "protected", "Value": "true"}]
    # The same calls on a user the condition does not match are allowed.
    key = own.create_access_key(UserName=plain)["AccessKey"]
    own.delete_access_key(UserName=plain, AccessKeyId=key["AccessKeyId"])
    own.untag_user(UserName=plain, TagKeys=["protected"])
    assert iam.list_user_tags(UserName=plain)["Tags"] == []


def test_iam_resource_tags_of_roles_and_policies(server: KmsdServer, iam: Any) -> None:
    prod, dev = unique("prod"), unique("dev")
    document = policy(trust(f"arn:aws:iam::{ACCOUNT}:root"))
    iam.create_role(RoleName=prod, AssumeRolePolicyDocument=document, Tags=[{"Key": "tier", "Value": "prod"}])
    iam.create_role(RoleName=dev, AssumeRolePolicyDocument=document)
    locked, unlocked = unique("locked"), unique("unlocked")
    locked_arn = iam.create_policy(
        PolicyName=locked, PolicyDocument=policy(allow("iam:Get*")), Tags=[{"Key": "locked", "Value": "yes"}]
    )["Policy"]["Arn"]
    unlocked_arn = iam.create_policy(PolicyName=unlocked, PolicyDocument=policy(allow("iam:Get*")))["Policy"]["Arn"]
    arn, own = attacker(
        server,
        iam,
        deny("iam:*", Condition={"StringEquals": {"iam:ResourceTag/tier": "prod"}}),
        deny("iam:CreatePolicyVersion", Condition={"StringEquals": {"aws:ResourceTag/locked": "yes"}}),
    )
    prod_arn = f"arn:aws:iam::{ACCOUNT}:role/{prod}"
    assert error_from(own.update_assume_role_policy, RoleName=prod, PolicyDocument=policy(trust(arn))) == (
        explicit_deny(arn, "iam:UpdateAssumeRolePolicy", prod_arn)
    )
    own.update_assume_role_policy(RoleName=dev, PolicyDocument=policy(trust(arn)))
    wider = policy(allow("*"))
    assert error_from(own.create_policy_version, PolicyArn=locked_arn, PolicyDocument=wider) == explicit_deny(
        arn, "iam:CreatePolicyVersion", locked_arn
    )
    assert own.create_policy_version(PolicyArn=unlocked_arn, PolicyDocument=wider)["PolicyVersion"]["VersionId"] == "v2"


def test_request_tags_and_tag_keys(server: KmsdServer, iam: Any) -> None:
    arn, own = attacker(
        server,
        iam,
        deny("iam:CreatePolicy", "iam:CreateRole", Condition={"StringNotEquals": {"aws:RequestTag/team": "blue"}}),
        deny("iam:UntagRole", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}),
    )
    document = policy(allow("iam:Get*"))
    red = unique("red")
    assert error_from(
        own.create_policy, PolicyName=red, PolicyDocument=document, Tags=[{"Key": "team", "Value": "red"}]
    ) == explicit_deny(arn, "iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/{red}")
    blue = unique("blue")
    created = own.create_policy(PolicyName=blue, PolicyDocument=document, Tags=[{"Key": "team", "Value": "blue"}])
    assert created["Policy"]["PolicyName"] == blue
    role = unique("tagged")
    own.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy(trust(f"arn:aws:iam::{ACCOUNT}:root")),
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "1"}],
    )
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert error_from(own.untag_role, RoleName=role, TagKeys=["team"]) == explicit_deny(arn, "iam:UntagRole", role_arn)
    own.untag_role(RoleName=role, TagKeys=["cost"])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "team", "Value": "blue"}]


def test_permissions_boundary_of_the_entity_and_policy_arn(server: KmsdServer, iam: Any) -> None:
    boundary = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=policy(allow("iam:Get*")))["Policy"][
        "Arn"
    ]
    bounded, unbounded = unique("bounded"), unique("free")
    iam.create_user(UserName=bounded, PermissionsBoundary=boundary)
    iam.create_user(UserName=unbounded)
    # The delegation pattern of "Permissions boundaries for IAM entities": attach only to bounded users,
    # and never AdministratorAccess.
    arn, own = attacker(
        server,
        iam,
        deny(
            "iam:AttachUserPolicy",
            "iam:PutUserPolicy",
            Condition={"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        ),
        deny("iam:AttachUserPolicy", Condition={"ArnEquals": {"iam:PolicyARN": ADMIN_ACCESS}}),
    )
    assert error_from(own.attach_user_policy, UserName=unbounded, PolicyArn=READ_ONLY) == explicit_deny(
        arn, "iam:AttachUserPolicy", user_arn(unbounded)
    )
    assert error_from(
        own.put_user_policy, UserName=unbounded.upper(), PolicyName="p", PolicyDocument=policy(allow("*"))
    ) == explicit_deny(arn, "iam:PutUserPolicy", user_arn(unbounded))
    assert error_from(own.attach_user_policy, UserName=bounded, PolicyArn=ADMIN_ACCESS) == explicit_deny(
        arn, "iam:AttachUserPolicy", user_arn(bounded)
    )
    own.attach_user_policy(UserName=bounded, PolicyArn=READ_ONLY)
    own.put_user_policy(UserName=bounded, PolicyName="p", PolicyDocument=policy(allow("iam:List*")))
    assert iam.list_attached_user_policies(UserName=bounded)["AttachedPolicies"][0]["PolicyArn"] == READ_ONLY
    # Creating a user: iam:PermissionsBoundary is the requested boundary.
    _, creator = attacker(
        server, iam, deny("iam:CreateUser", Condition={"StringNotEquals": {"iam:PermissionsBoundary": boundary}})
    )
    assert error_from(creator.create_user, UserName=unique("nobound"))[0] == "AccessDenied"
    assert creator.create_user(UserName=unique("withbound"), PermissionsBoundary=boundary)["User"]


def test_assume_role_sees_the_roles_tags(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    prod, dev = unique("prod"), unique("dev")
    document = policy(trust(f"arn:aws:iam::{ACCOUNT}:root"))
    iam.create_role(RoleName=prod, AssumeRolePolicyDocument=document, Tags=[{"Key": "tier", "Value": "prod"}])
    iam.create_role(RoleName=dev, AssumeRolePolicyDocument=document, Tags=[{"Key": "tier", "Value": "dev"}])
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=policy(
            allow("sts:AssumeRole"),
            deny("sts:AssumeRole", Condition={"StringEquals": {"aws:ResourceTag/tier": "prod"}}),
        ),
    )
    sts = client(server, "sts", credentials)
    prod_arn = f"arn:aws:iam::{ACCOUNT}:role/{prod}"
    code, message, status = error_from(sts.assume_role, RoleArn=prod_arn, RoleSessionName="s1")
    assert (code, status) == ("AccessDenied", 403)
    assert message == f"User: {user_arn(name)} is not authorized to perform: sts:AssumeRole on resource: {prod_arn}"
    assumed = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{dev}", RoleSessionName="s1")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{dev}/s1")


# --- item 13: SourceIdentity ----------------------------------------------------------------------


def role_for(iam: Any, principal: str, *actions: str, condition: dict[str, Any] | None = None) -> str:
    extra = {"Condition": condition} if condition else {}
    role = unique("role")
    arn: str = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(principal, *actions, **extra)))[
        "Role"
    ]["Arn"]
    return arn


def test_source_identity_needs_set_source_identity_in_the_trust_policy(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    sts = client(server, "sts", credentials)
    plain = role_for(iam, user_arn(name))
    assert error_from(sts.assume_role, RoleArn=plain, RoleSessionName="s1", SourceIdentity="alice") == (
        "AccessDenied",
        f"User: {user_arn(name)} is not authorized to perform: sts:SetSourceIdentity on resource: {plain}",
        403,
    )
    assert "SourceIdentity" not in sts.assume_role(RoleArn=plain, RoleSessionName="s1")
    allowing = role_for(
        iam,
        user_arn(name),
        "sts:AssumeRole",
        "sts:SetSourceIdentity",
        condition={"StringLike": {"sts:SourceIdentity": "a*"}},
    )
    assumed = sts.assume_role(RoleArn=allowing, RoleSessionName="s1", SourceIdentity="alice")
    assert assumed["SourceIdentity"] == "alice"
    # sts:SourceIdentity is the requested value: the trust policy's condition refuses another one.
    assert error_from(sts.assume_role, RoleArn=allowing, RoleSessionName="s1", SourceIdentity="bob")[0] == (
        "AccessDenied"
    )
    # The model's rules (2 to 256 of [\w+=,.@-]), checked by the server, not only by the SDK.
    unchecked = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    for bad in ("a", "has space", "aws:alice", "x" * 257):
        code, _, status = error_from(unchecked.assume_role, RoleArn=allowing, RoleSessionName="s1", SourceIdentity=bad)
        assert (code, status) == ("ValidationError", 400)


def test_source_identity_in_key_policies_identity_policies_and_role_chains(
    server: KmsdServer, iam: Any, root_credentials: tuple[str, str]
) -> None:
    name, credentials = user_with_key(iam)
    first = role_for(iam, user_arn(name), "sts:AssumeRole", "sts:SetSourceIdentity")
    first_name = first.rsplit("/", 1)[1]
    iam.put_role_policy(
        RoleName=first_name,
        PolicyName="chain",
        PolicyDocument=policy(
            allow("sts:AssumeRole"),
            allow("iam:ListRoles", Condition={"StringEquals": {"aws:SourceIdentity": "alice"}}),
        ),
    )
    second = role_for(iam, first, "sts:AssumeRole", "sts:SetSourceIdentity")
    without_set = role_for(iam, first, "sts:AssumeRole")
    kms = client(server, "kms", root_credentials)
    key_policy = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": [first, second]},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
        },
    )
    key_id = kms.create_key(Policy=key_policy)["KeyMetadata"]["KeyId"]
    sts = client(server, "sts", credentials)

    alice = sts.assume_role(RoleArn=first, RoleSessionName="s1", SourceIdentity="alice")["Credentials"]
    bob = sts.assume_role(RoleArn=first, RoleSessionName="s1", SourceIdentity="bob")["Credentials"]
    nobody = sts.assume_role(RoleArn=first, RoleSessionName="s1")["Credentials"]
    assert session_client(server, "kms", alice).encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)
    for other in (bob, nobody):
        code, message, _ = error_from(session_client(server, "kms", other).encrypt, KeyId=key_id, Plaintext=b"x")
        assert code == "AccessDeniedException"
        assert "kms:Encrypt" in message
    # In the role's identity policy too.
    assert session_client(server, "iam", alice).list_roles()["Roles"]
    assert error_from(session_client(server, "iam", bob).list_roles)[0] == "AccessDenied"

    # Role chaining keeps the source identity, and the next trust policy must allow setting it.
    chained_sts = session_client(server, "sts", alice)
    chained = chained_sts.assume_role(RoleArn=second, RoleSessionName="c1")
    assert chained["SourceIdentity"] == "alice"
    assert session_client(server, "kms", chained["Credentials"]).encrypt(KeyId=key_id, Plaintext=b"x")
    again = chained_sts.assume_role(RoleArn=second, RoleSessionName="c1", SourceIdentity="alice")
    assert again["SourceIdentity"] == "alice"
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{first_name}/s1"
    assert error_from(chained_sts.assume_role, RoleArn=second, RoleSessionName="c1", SourceIdentity="mallory") == (
        "AccessDenied",
        f"User: {session_arn} is not authorized to perform: sts:SetSourceIdentity on resource: {second}",
        403,
    )
    assert error_from(chained_sts.assume_role, RoleArn=without_set, RoleSessionName="c1") == (
        "AccessDenied",
        f"User: {session_arn} is not authorized to perform: sts:SetSourceIdentity on resource: {without_set}",
        403,
    )
    # A session without a source identity may still chain into a role that does not allow setting one.
    assert session_client(server, "sts", nobody).assume_role(RoleArn=without_set, RoleSessionName="c1")


# --- item 17: managed session policies ------------------------------------------------------------


def test_session_policy_arns_must_be_the_roles_accounts_or_aws_managed(server: KmsdServer, iam: Any) -> None:
    other_id = f"{uuid.uuid4().int % 10**12:012d}"
    other_iam = client(server, "iam", server.create_account(other_id))
    private = other_iam.create_policy(PolicyName=unique("private"), PolicyDocument=policy(allow("iam:*")))["Policy"][
        "Arn"
    ]
    name, credentials = user_with_key(iam)
    role = role_for(iam, user_arn(name))
    iam.put_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyName="all", PolicyDocument=policy(allow("iam:*")))
    own_policy = iam.create_policy(PolicyName=unique("own"), PolicyDocument=policy(allow("iam:ListRoles")))["Policy"][
        "Arn"
    ]
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{unique('missing')}"
    sts = client(server, "sts", credentials)
    for arn in (private, missing, f"arn:aws:iam::aws:policy/{unique('NoSuchManaged')}"):
        assert error_from(
            sts.assume_role, RoleArn=role, RoleSessionName="s1", PolicyArns=[{"arn": own_policy}, {"arn": arn}]
        ) == (
            "MalformedPolicyDocument",
            f"Policy {arn} does not exist or is not attachable.",
            400,
        )
    # A caller who may not assume the role learns nothing about which policies exist.
    stranger, stranger_credentials = user_with_key(iam)
    assert error_from(
        client(server, "sts", stranger_credentials).assume_role,
        RoleArn=role,
        RoleSessionName="s1",
        PolicyArns=[{"arn": missing}],
    ) == (
        "AccessDenied",
        f"User: {user_arn(stranger)} is not authorized to perform: sts:AssumeRole on resource: {role}",
        403,
    )
    # The role's own account's policy and AWS managed ones are accepted, and narrow the session.
    assumed = sts.assume_role(RoleArn=role, RoleSessionName="s1", PolicyArns=[{"arn": own_policy}])["Credentials"]
    session_iam = session_client(server, "iam", assumed)
    assert session_iam.list_roles()["Roles"]
    assert error_from(session_iam.list_users)[0] == "AccessDenied"
    read_only = sts.assume_role(RoleArn=role, RoleSessionName="s1", PolicyArns=[{"arn": READ_ONLY}])["Credentials"]
    assert session_client(server, "iam", read_only).list_users()["Users"]
