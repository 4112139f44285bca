"""The life of every IAM entity through boto3 against ``kmsd serve``: users, groups, roles, access keys,
managed policies and their versions, inline policies, permissions boundaries, tags, paging, and IAM's errors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_errors import error_of
from tests.helpers.clients import client, unique
from tests.integration.server import KmsdServer

ACCOUNT = "000000000000"
KMS_READ: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Describe*", "kms:List*"], "Resource": "*"}],
}
TRUST_ACCOUNT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture
def iam(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    return client(server, "iam", root_credentials)


def raises(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return error_of(excinfo)


# --- users -----------------------------------------------------------------------------------------------------
def test_user_life(iam: Any) -> None:
    name = unique("alice")
    created = iam.create_user(UserName=name, Path="/engineering/", Tags=[{"Key": "team", "Value": "payments"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/engineering/{name}"
    assert created["UserId"].startswith("AIDA")
    assert created["Path"] == "/engineering/"
    fetched = iam.get_user(UserName=name)["User"]
    assert fetched["UserId"] == created["UserId"]
    assert fetched["Tags"] == [{"Key": "team", "Value": "payments"}]

    assert raises(iam.create_user, UserName=name) == (
        "EntityAlreadyExists",
        f"User with name {name} already exists.",
        409,
    )
    listed = [u["UserName"] for u in iam.list_users(PathPrefix="/engineering/")["Users"]]
    assert name in listed
    assert name not in [u["UserName"] for u in iam.list_users(PathPrefix="/sales/")["Users"]]

    iam.tag_user(UserName=name, Tags=[{"Key": "stage", "Value": "prod"}])
    iam.untag_user(UserName=name, TagKeys=["team"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "stage", "Value": "prod"}]

    renamed = unique("alicia")
    iam.update_user(UserName=name, NewUserName=renamed, NewPath="/finance/")
    assert iam.get_user(UserName=renamed)["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/finance/{renamed}"
    assert raises(iam.get_user, UserName=name) == ("NoSuchEntity", f"The user with name {name} cannot be found.", 404)

    iam.delete_user(UserName=renamed)
    assert raises(iam.delete_user, UserName=renamed)[0] == "NoSuchEntity"


def test_list_users_pages_with_marker(iam: Any) -> None:
    path = f"/{unique('paging')}/"
    names = sorted(unique(f"u{i}") for i in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    first = iam.list_users(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in first["Users"]] == names[:2]
    second = iam.list_users(PathPrefix=path, MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == names[2:4]
    last = iam.list_users(PathPrefix=path, MaxItems=2, Marker=second["Marker"])
    assert [u["UserName"] for u in last["Users"]] == names[4:]
    assert last["IsTruncated"] is False
    assert "Marker" not in last
    # boto3's paginator follows the same markers.
    paged = iam.get_paginator("list_users").paginate(PathPrefix=path, PaginationConfig={"PageSize": 2})
    assert [u["UserName"] for u in paged.search("Users")] == names


def test_delete_user_is_refused_while_it_has_things(iam: Any) -> None:
    name = unique("owner")
    iam.create_user(UserName=name)
    key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    assert raises(iam.delete_user, UserName=name) == (
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
        409,
    )
    iam.delete_access_key(UserName=name, AccessKeyId=key_id)

    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(KMS_READ))
    assert raises(iam.delete_user, UserName=name) == (
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
        409,
    )
    iam.delete_user_policy(UserName=name, PolicyName="inline")

    policy_arn = iam.create_policy(PolicyName=unique("attached"), PolicyDocument=json.dumps(KMS_READ))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    assert raises(iam.delete_user, UserName=name) == (
        "DeleteConflict",
        "Cannot delete entity, must detach all policies first.",
        409,
    )
    iam.detach_user_policy(UserName=name, PolicyArn=policy_arn)

    group = unique("group")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    code, _, status = raises(iam.delete_user, UserName=name)
    assert (code, status) == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=group, UserName=name)

    iam.delete_user(UserName=name)
    iam.delete_group(GroupName=group)
    iam.delete_policy(PolicyArn=policy_arn)


# --- groups ----------------------------------------------------------------------------------------------------
def test_group_life(iam: Any) -> None:
    group = unique("admins")
    created = iam.create_group(GroupName=group, Path="/ops/")["Group"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/ops/{group}"
    assert created["GroupId"].startswith("AGPA")
    assert raises(iam.create_group, GroupName=group)[0:3:2] == ("EntityAlreadyExists", 409)
    members = [unique("member") for _ in range(2)]
    for member in members:
        iam.create_user(UserName=member)
        iam.add_user_to_group(GroupName=group, UserName=member)
    fetched = iam.get_group(GroupName=group)
    assert fetched["Group"]["GroupName"] == group
    assert sorted(u["UserName"] for u in fetched["Users"]) == sorted(members)
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=members[0])["Groups"]] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/ops/")["Groups"]]

    assert raises(iam.delete_group, GroupName=group) == (
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
        409,
    )
    for member in members:
        iam.remove_user_from_group(GroupName=group, UserName=member)
        iam.delete_user(UserName=member)
    iam.delete_group(GroupName=group)
    assert raises(iam.get_group, GroupName=group)[0] == "NoSuchEntity"


# --- roles -----------------------------------------------------------------------------------------------------
def test_role_life(iam: Any) -> None:
    boundary = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=json.dumps(KMS_READ))["Policy"]["Arn"]
    role = unique("deployer")
    created = iam.create_role(
        RoleName=role,
        Path="/ci/",
        AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT),
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "owner", "Value": "ci"}],
        Description="deploys things",
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ci/{role}"
    assert created["RoleId"].startswith("AROA")
    fetched = iam.get_role(RoleName=role)["Role"]
    # IAM sends the document URL-encoded; boto3 hands it back as a dict.
    assert fetched["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    assert fetched["MaxSessionDuration"] == 7200
    assert fetched["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary,
    }
    assert fetched["Tags"] == [{"Key": "owner", "Value": "ci"}]
    assert role in [r["RoleName"] for r in iam.list_roles(PathPrefix="/ci/")["Roles"]]

    narrower = {**TRUST_ACCOUNT, "Statement": [{**TRUST_ACCOUNT["Statement"][0], "Sid": "OnlyRoot"}]}
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(narrower))
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == narrower

    iam.tag_role(RoleName=role, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_role(RoleName=role, TagKeys=["owner"])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "env", "Value": "prod"}]

    iam.attach_role_policy(RoleName=role, PolicyArn=boundary)
    code, _, status = raises(iam.delete_role, RoleName=role)
    assert (code, status) == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName=role, PolicyArn=boundary)
    iam.delete_role_permissions_boundary(RoleName=role)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]
    iam.delete_role(RoleName=role)
    assert raises(iam.get_role, RoleName=role) == ("NoSuchEntity", f"The role with name {role} cannot be found.", 404)
    iam.delete_policy(PolicyArn=boundary)


def test_role_documents_are_checked(iam: Any) -> None:
    role = unique("bad")
    code, message, status = raises(iam.create_role, RoleName=role, AssumeRolePolicyDocument="{not json")
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert message
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    code, _, status = raises(iam.create_role, RoleName=role, AssumeRolePolicyDocument=json.dumps(no_principal))
    assert (code, status) == ("MalformedPolicyDocument", 400)
    # botocore itself refuses values under the model's minimum; the maximum is the server's to check.
    assert raises(
        iam.create_role, RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT), MaxSessionDuration=43201
    ) == (
        "ValidationError",
        "1 validation error detected: Value '43201' at 'maxSessionDuration' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200",
        400,
    )


# --- access keys -----------------------------------------------------------------------------------------------
def test_access_key_life(iam: Any) -> None:
    name = unique("keyholder")
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA")
    assert first["Status"] == "Active"
    assert len(first["SecretAccessKey"]) == 40
    second = iam.create_access_key(UserName=name)["AccessKey"]
    assert raises(iam.create_access_key, UserName=name) == (
        "LimitExceeded",
        "Cannot exceed quota for AccessKeysPerUser: 2",
        409,
    )
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)

    iam.update_access_key(UserName=name, AccessKeyId=first["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses[first["AccessKeyId"]] == "Inactive"

    never = iam.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    assert never["AccessKeyLastUsed"]["Region"] == "N/A"

    for key in (first, second):
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert raises(iam.delete_access_key, UserName=name, AccessKeyId=first["AccessKeyId"])[0] == "NoSuchEntity"
    iam.delete_user(UserName=name)


def test_access_key_use_is_recorded(server: KmsdServer, iam: Any) -> None:
    name = unique("used")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    own = client(server, "sts", (key["AccessKeyId"], key["SecretAccessKey"]))
    own.get_caller_identity()
    last_used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert last_used["ServiceName"] == "sts"
    assert last_used["Region"] == "us-east-1"
    assert "LastUsedDate" in last_used


# --- managed policies ------------------------------------------------------------------------------------------
def test_managed_policy_with_versions(iam: Any) -> None:
    name = unique("kms-read")
    policy = iam.create_policy(
        PolicyName=name, Path="/kms/", PolicyDocument=json.dumps(KMS_READ), Description="read keys"
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/kms/{name}"
    assert policy["DefaultVersionId"] == "v1"
    assert policy["PolicyId"].startswith("ANPA")
    assert raises(iam.create_policy, PolicyName=name, PolicyDocument=json.dumps(KMS_READ))[0:3:2] == (
        "EntityAlreadyExists",
        409,
    )
    for number in range(2, 6):
        document = {**KMS_READ, "Statement": [{**KMS_READ["Statement"][0], "Sid": f"V{number}"}]}
        version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
        assert version["PolicyVersion"]["VersionId"] == f"v{number}"
    # A managed policy keeps at most five versions ("IAM and AWS STS quotas").
    assert raises(iam.create_policy_version, PolicyArn=arn, PolicyDocument=json.dumps(KMS_READ)) == (
        "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
        "existing version.",
        409,
    )
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v5"]
    fetched = iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]
    assert fetched["Document"]["Statement"][0]["Sid"] == "V5"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"

    assert raises(iam.delete_policy_version, PolicyArn=arn, VersionId="v5")[0:3:2] == ("DeleteConflict", 409)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    assert "v5" not in [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]]

    local = [p["Arn"] for p in iam.get_paginator("list_policies").paginate(Scope="Local").search("Policies")]
    assert arn in local
    # A policy is deleted with its default version only: the others go first (DeletePolicy).
    assert raises(iam.delete_policy, PolicyArn=arn)[0:3:2] == ("DeleteConflict", 409)
    for version in ("v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.delete_policy(PolicyArn=arn)
    assert raises(iam.get_policy, PolicyArn=arn) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_malformed_policy_documents(iam: Any) -> None:
    for document in ("{not json", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]})):
        code, message, status = raises(iam.create_policy, PolicyName=unique("bad"), PolicyDocument=document)
        assert (code, status) == ("MalformedPolicyDocument", 400)
        assert message
    code, _, status = raises(
        iam.put_user_policy, UserName=unique("nobody"), PolicyName="p", PolicyDocument=json.dumps(KMS_READ)
    )
    assert (code, status) == ("NoSuchEntity", 404)


def test_attachments_and_entities_for_policy(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=unique("shared"), PolicyDocument=json.dumps(KMS_READ))["Policy"]["Arn"]
    user, group, role = unique("u"), unique("g"), unique("r")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]] == [arn]
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]] == [arn]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == [arn]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True, MaxItems=1000)["Policies"]]
    assert raises(iam.delete_policy, PolicyArn=arn)[0:3:2] == ("DeleteConflict", 409)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert raises(iam.detach_user_policy, UserName=user, PolicyArn=arn)[0:3:2] == ("NoSuchEntity", 404)
    iam.delete_policy(PolicyArn=arn)


def test_aws_managed_policies_exist_in_every_account(iam: Any) -> None:
    arn = "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v2"
    document = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"]
    actions = {
        a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"kms:CreateKey", "kms:List*", "iam:ListUsers"} <= actions
    aws_scope = [p["Arn"] for p in iam.get_paginator("list_policies").paginate(Scope="AWS").search("Policies")]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in aws_scope
    assert "arn:aws:iam::aws:policy/IAMReadOnlyAccess" in aws_scope


# --- inline policies and boundaries ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies(iam: Any, kind: str) -> None:
    name = unique(kind)
    entity = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
    if kind == "role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    else:
        getattr(iam, f"create_{kind}")(**{entity: name})
    getattr(iam, f"put_{kind}_policy")(**{entity: name}, PolicyName="read", PolicyDocument=json.dumps(KMS_READ))
    fetched = getattr(iam, f"get_{kind}_policy")(**{entity: name}, PolicyName="read")
    assert fetched["PolicyDocument"] == KMS_READ
    assert fetched[entity] == name
    assert getattr(iam, f"list_{kind}_policies")(**{entity: name})["PolicyNames"] == ["read"]
    code, _, status = raises(getattr(iam, f"get_{kind}_policy"), **{entity: name}, PolicyName="missing")
    assert (code, status) == ("NoSuchEntity", 404)
    getattr(iam, f"delete_{kind}_policy")(**{entity: name}, PolicyName="read")
    assert getattr(iam, f"list_{kind}_policies")(**{entity: name})["PolicyNames"] == []
    getattr(iam, f"delete_{kind}")(**{entity: name})


def test_user_permissions_boundary(iam: Any) -> None:
    boundary = iam.create_policy(PolicyName=unique("ceiling"), PolicyDocument=json.dumps(KMS_READ))["Policy"]["Arn"]
    name = unique("bounded")
    iam.create_user(UserName=name)
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in iam.get_user(UserName=name)["User"]
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{unique('nope')}"
    assert raises(iam.put_user_permissions_boundary, UserName=name, PermissionsBoundary=missing) == (
        "NoSuchEntity",
        f"Scope ARN: {missing} does not exist or is not attachable.",
        404,
    )
    iam.delete_user(UserName=name)
    iam.delete_policy(PolicyArn=boundary)
