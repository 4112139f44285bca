"""IAM and STS calls authorized by identity policies, through boto3 against ``kmsd serve``.

A user with no policy can do nothing (AccessDenied, 403, AWS's message);
attaching a policy takes effect at once; group policies apply to members; an
explicit deny and a permissions boundary limit what an Allow grants; a key
made inactive or deleted stops working on the very next request.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.helpers.aws_errors import error_from
from tests.helpers.clients import client, unique, user_with_key
from tests.integration.server import KmsdServer

ACCOUNT = "000000000000"
IAM_READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
INVALID_TOKEN = ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)


def allow(*actions: str, effect: str = "Allow") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": list(actions), "Resource": "*"}]}
    )


def denied(arn: str, action: str, resource: str, reason: str) -> tuple[str, str, int]:
    return ("AccessDenied", f"User: {arn} is not authorized to perform: {action} on resource: {resource} {reason}", 403)


@pytest.fixture
def iam(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    return client(server, "iam", root_credentials)


def test_user_without_policy_is_denied_then_allowed_after_attach(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    own = client(server, "iam", credentials)
    assert error_from(own.list_users) == denied(
        arn,
        "iam:ListUsers",
        f"arn:aws:iam::{ACCOUNT}:user/",
        "because no identity-based policy allows the iam:ListUsers action",
    )
    assert error_from(own.get_user, UserName=name) == denied(
        arn, "iam:GetUser", arn, "because no identity-based policy allows the iam:GetUser action"
    )
    # Knowing who you are needs no permission (GetCallerIdentity).
    assert client(server, "sts", credentials).get_caller_identity()["Arn"] == arn

    iam.attach_user_policy(UserName=name, PolicyArn=IAM_READ_ONLY)
    listed = own.list_users()
    assert name in [u["UserName"] for u in listed["Users"]]
    # Read-only means read-only.
    assert error_from(own.create_user, UserName=unique("nope"))[0] == "AccessDenied"

    iam.detach_user_policy(UserName=name, PolicyArn=IAM_READ_ONLY)
    assert error_from(own.list_users)[0] == "AccessDenied"


def test_group_policies_apply_to_members(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    group = unique("readers")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="roles", PolicyDocument=allow("iam:ListRoles"))
    own = client(server, "iam", credentials)
    assert error_from(own.list_roles)[0] == "AccessDenied"
    iam.add_user_to_group(GroupName=group, UserName=name)
    assert "Roles" in own.list_roles()
    assert error_from(own.list_users)[0] == "AccessDenied"

    managed = iam.create_policy(PolicyName=unique("groups"), PolicyDocument=allow("iam:ListGroups"))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=managed)
    assert "Groups" in own.list_groups()

    iam.remove_user_from_group(GroupName=group, UserName=name)
    assert error_from(own.list_roles)[0] == "AccessDenied"
    assert error_from(own.list_groups)[0] == "AccessDenied"


def test_explicit_deny_wins(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    group = unique("blocked")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="deny", PolicyDocument=allow("iam:ListUsers", effect="Deny"))
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="allow", PolicyDocument=allow("iam:List*"))
    own = client(server, "iam", credentials)
    assert error_from(own.list_users) == denied(
        f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "iam:ListUsers",
        f"arn:aws:iam::{ACCOUNT}:user/",
        "with an explicit deny in an identity-based policy",
    )
    assert "Roles" in own.list_roles()


def test_permissions_boundary_limits_what_policies_allow(server: KmsdServer, iam: Any) -> None:
    boundary = iam.create_policy(PolicyName=unique("only-roles"), PolicyDocument=allow("iam:ListRoles"))["Policy"]
    name, credentials = user_with_key(iam)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary["Arn"])
    own = client(server, "iam", credentials)
    assert "Roles" in own.list_roles()
    assert error_from(own.list_users) == denied(
        f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "iam:ListUsers",
        f"arn:aws:iam::{ACCOUNT}:user/",
        "because no permissions boundary allows the iam:ListUsers action",
    )


def test_inactive_key_is_refused_at_once(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    iam.attach_user_policy(UserName=name, PolicyArn=IAM_READ_ONLY)
    own = client(server, "iam", credentials)
    own.list_users()
    iam.update_access_key(UserName=name, AccessKeyId=credentials[0], Status="Inactive")
    assert error_from(own.list_users) == INVALID_TOKEN
    assert error_from(client(server, "kms", credentials).list_keys)[0] == "UnrecognizedClientException"
    iam.update_access_key(UserName=name, AccessKeyId=credentials[0], Status="Active")
    assert "Users" in own.list_users()


def test_deleted_key_and_deleted_user_are_refused(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    sts = client(server, "sts", credentials)
    sts.get_caller_identity()
    iam.delete_access_key(UserName=name, AccessKeyId=credentials[0])
    assert error_from(sts.get_caller_identity) == INVALID_TOKEN
    iam.delete_user(UserName=name)
    assert error_from(iam.get_user, UserName=name)[0] == "NoSuchEntity"


def test_each_account_sees_only_its_own_entities(server: KmsdServer, iam: Any) -> None:
    # IAM names entities in the caller's own account: another account's root does not see this one's users.
    name, _ = user_with_key(iam)
    other = client(server, "iam", server.create_account(f"{uuid.uuid4().int % 10**12:012d}"))
    assert error_from(other.get_user, UserName=name) == (
        "NoSuchEntity",
        f"The user with name {name} cannot be found.",
        404,
    )
    assert name not in [u["UserName"] for u in other.list_users()["Users"]]
