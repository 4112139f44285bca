"""The IAM service itself: its dispatch table, authorization before every handler, transactions, write listeners."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.iam.accounts import AccountDirectory
from kmsd.iam.context import IamContext
from kmsd.iam.credentials import CredentialResolver
from kmsd.iam.ids import new_unique_id, path_matches, validate_path
from kmsd.iam.principal import Caller
from kmsd.iam.service import OPERATIONS, IamService, Operation
from kmsd.store.models import IamGroup

from .conftest import ACCOUNT, OTHER_ACCOUNT, Iam, add_managed_policy, aws_error, put_inline

# Every IAM operation issue 4 names (plus UpdateGroup, UpdateRole, UpdateRoleDescription,
# ListRoleTags and SetDefaultPolicyVersion, which come with them).
ISSUE_OPERATIONS = {
    "CreateUser", "GetUser", "ListUsers", "UpdateUser", "DeleteUser", "TagUser", "UntagUser", "ListUserTags",
    "CreateGroup", "GetGroup", "ListGroups", "UpdateGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreateRole", "GetRole", "ListRoles", "UpdateRole", "UpdateRoleDescription", "UpdateAssumeRolePolicy",
    "DeleteRole", "TagRole", "UntagRole", "ListRoleTags",
    "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey", "GetAccessKeyLastUsed",
    "CreatePolicy", "GetPolicy", "ListPolicies", "CreatePolicyVersion", "GetPolicyVersion", "ListPolicyVersions",
    "DeletePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicy",
    "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy", "AttachRolePolicy",
    "DetachRolePolicy", "ListAttachedUserPolicies", "ListAttachedGroupPolicies", "ListAttachedRolePolicies",
    "ListEntitiesForPolicy",
    "PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy", "ListUserPolicies",
    "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", "ListGroupPolicies",
    "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
    "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
    "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    # issue 13: the policy simulator
    "SimulatePrincipalPolicy", "SimulateCustomPolicy",
}  # fmt: skip
READ_PREFIXES = ("Get", "List", "Simulate")


def test_the_table_names_every_operation_of_the_issue_and_nothing_else() -> None:
    assert IamService.operations == frozenset(ISSUE_OPERATIONS)


@pytest.mark.parametrize("name", sorted(ISSUE_OPERATIONS))
def test_each_operation_is_authorized_as_its_own_iam_action(name: str) -> None:
    entry = OPERATIONS[name]
    assert entry.action == f"iam:{name}"
    assert entry.writes is not name.startswith(READ_PREFIXES)


def test_an_unknown_operation_is_invalid_action(iam: Iam) -> None:
    with aws_error("InvalidAction", "Could not find operation AssumeRole for version 2010-05-08", 400):
        iam("AssumeRole")


def resource_of(iam: Iam, operation: str, **params: Any) -> str:
    return OPERATIONS[operation].resource(iam.service.context, iam.caller, params)


def test_resources_name_the_entity_with_its_path(iam: Iam) -> None:
    iam.create_user("alice", Path="/ops/")
    iam.create_group("admins", Path="/g/")
    iam.create_role("deployer", Path="/ci/")
    assert resource_of(iam, "GetUser", UserName="alice") == f"arn:aws:iam::{ACCOUNT}:user/ops/alice"
    assert resource_of(iam, "AddUserToGroup", GroupName="admins", UserName="alice") == (
        f"arn:aws:iam::{ACCOUNT}:group/g/admins"
    )
    assert resource_of(iam, "DeleteRole", RoleName="deployer") == f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    assert resource_of(iam, "AttachRolePolicy", RoleName="deployer", PolicyArn="x") == (
        f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    )
    # An entity that does not exist is named with path "/": the caller learns nothing from a denial.
    assert resource_of(iam, "GetUser", UserName="ghost") == f"arn:aws:iam::{ACCOUNT}:user/ghost"


def test_resources_of_creations_lists_and_the_caller(iam: Iam) -> None:
    assert resource_of(iam, "CreateUser", UserName="bob", Path="/x/") == f"arn:aws:iam::{ACCOUNT}:user/x/bob"
    assert resource_of(iam, "CreatePolicy", PolicyName="P", PolicyDocument="{}") == (f"arn:aws:iam::{ACCOUNT}:policy/P")
    assert resource_of(iam, "ListUsers") == f"arn:aws:iam::{ACCOUNT}:user/"
    assert resource_of(iam, "ListRoles", PathPrefix="/ci/") == f"arn:aws:iam::{ACCOUNT}:role/ci/"
    assert resource_of(iam, "ListGroups") == f"arn:aws:iam::{ACCOUNT}:group/"
    assert resource_of(iam, "ListPolicies") == f"arn:aws:iam::{ACCOUNT}:policy/"
    assert resource_of(iam, "GetPolicy", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess") == (
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    assert resource_of(iam, "GetUser") == f"arn:aws:iam::{ACCOUNT}:root"


def test_get_access_key_last_used_is_authorized_on_the_owner_of_the_key(iam: Iam) -> None:
    user = iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    assert resource_of(iam, "GetAccessKeyLastUsed", AccessKeyId=key_id) == user["Arn"]


def test_a_user_without_policies_can_do_nothing(iam: Iam) -> None:
    iam.create_user("alice")
    alice = iam.as_user("alice")
    arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    with aws_error(
        "AccessDenied",
        f"User: {arn} is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ "
        "because no identity-based policy allows the iam:ListUsers action",
        403,
    ):
        alice("ListUsers")
    # Authorization comes first: an unauthorized caller does not learn whether an entity exists.
    with aws_error("AccessDenied", status=403):
        alice("GetUser", UserName="ghost")
    with aws_error("AccessDenied", status=403):
        alice("CreateUser", UserName="mallory")
    assert iam.store.get_user(ACCOUNT, "mallory") is None


def test_attaching_a_policy_through_the_service_takes_effect_on_the_next_call(iam: Iam) -> None:
    iam.create_user("alice")
    alice = iam.as_user("alice")
    with aws_error("AccessDenied"):
        alice("ListUsers")
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}'
    arn = iam("CreatePolicy", PolicyName="Lister", PolicyDocument=document)["Policy"]["Arn"]
    iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    assert [u["UserName"] for u in alice("ListUsers")["Users"]] == ["alice"]
    iam("DetachUserPolicy", UserName="alice", PolicyArn=arn)
    with aws_error("AccessDenied"):
        alice("ListUsers")


def test_a_resource_scoped_policy_sees_the_entity_path(iam: Iam) -> None:
    alice_id = iam.create_user("alice")["UserId"]
    iam.create_user("ops-user", Path="/ops/")
    iam.create_user("other")
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:GetUser", "Resource": f"arn:aws:iam::{ACCOUNT}:user/ops/*"}
            ],
        }
    )
    iam("PutUserPolicy", UserName="alice", PolicyName="ops-only", PolicyDocument=document)
    assert iam.store.list_inline_policies("user", alice_id)
    alice = iam.as_user("alice")
    assert alice("GetUser", UserName="ops-user")["User"]["Path"] == "/ops/"
    with aws_error("AccessDenied"):
        alice("GetUser", UserName="other")


def test_conditions_on_request_tags_and_boundaries_are_enforced(iam: Iam) -> None:
    boundary = add_managed_policy(iam.store, ACCOUNT, "Boundary")
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iam:CreateUser",
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"iam:PermissionsBoundary": boundary, "aws:RequestTag/team": "kms"},
                    },
                }
            ],
        }
    )
    admin_id = iam.create_user("admin")["UserId"]
    iam("PutUserPolicy", UserName="admin", PolicyName="bounded-creation", PolicyDocument=document)
    assert iam.store.list_inline_policies("user", admin_id)
    admin = iam.as_user("admin")
    with aws_error("AccessDenied"):
        admin("CreateUser", UserName="free")
    with aws_error("AccessDenied"):
        admin("CreateUser", UserName="untagged", PermissionsBoundary=boundary)
    created = admin(
        "CreateUser", UserName="bounded", PermissionsBoundary=boundary, Tags=[{"Key": "team", "Value": "kms"}]
    )
    assert created["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


def test_root_of_one_account_acts_only_on_its_own_entities(iam: Iam) -> None:
    iam.create_user("alice")
    other = iam.as_root(OTHER_ACCOUNT)
    with aws_error("NoSuchEntity", "The user with name alice cannot be found.", 404):
        other("GetUser", UserName="alice")
    assert other("ListUsers")["Users"] == []


def test_a_failing_write_leaves_nothing_written(iam: Iam, monkeypatch: pytest.MonkeyPatch) -> None:
    def create_group_then_fail(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        ctx.store.insert_group(IamGroup("AGPAHALFWRITTEN00000", ACCOUNT, "half", "/", ctx.clock.now()))
        assert ctx.store.get_group(ACCOUNT, "half") is not None
        raise RuntimeError("failed after writing")

    failing = Operation(create_group_then_fail, True, "iam:CreateGroup", OPERATIONS["CreateGroup"].resource)
    monkeypatch.setitem(OPERATIONS, "CreateGroup", failing)
    with pytest.raises(RuntimeError):
        iam("CreateGroup", GroupName="half")
    assert iam.store.get_group(ACCOUNT, "half") is None


def test_refused_writes_change_nothing(iam: Iam) -> None:
    iam.create_user("alice", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    before = iam("GetUser", UserName="alice")
    with aws_error("LimitExceeded"):
        iam("TagUser", UserName="alice", Tags=[{"Key": "k0", "Value": "changed"}, {"Key": "new", "Value": "v"}])
    with aws_error("MalformedPolicyDocument"):
        iam.create_role("deployer", '{"Version":"2012-10-17","Statement":[]}')
    assert iam("GetUser", UserName="alice") == before
    assert iam("ListRoles")["Roles"] == []


def test_write_listeners_hear_committed_writes_only(service: IamService, iam: Iam) -> None:
    heard: list[str] = []
    service.add_write_listener(lambda: heard.append("write"))
    iam.create_user("alice")
    iam("ListUsers")
    iam("GetUser", UserName="alice")
    with aws_error("EntityAlreadyExists"):
        iam.create_user("alice")
    assert heard == ["write"]


def test_an_inactive_key_stops_resolving_at_once(service: IamService, iam: Iam, root_key: FileRootKey) -> None:
    context = service.context
    accounts = AccountDirectory(context.store, root_key, context.clock, context.rng)
    resolver = CredentialResolver(context.store, root_key, accounts, clock=context.clock)
    service.add_write_listener(resolver.invalidate)
    iam.create_user("alice")
    key = iam("CreateAccessKey", UserName="alice")["AccessKey"]
    resolved = resolver.resolve(key["AccessKeyId"])
    assert resolved is not None
    assert resolved.principal.arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert resolved.secret_access_key == key["SecretAccessKey"]
    iam("UpdateAccessKey", UserName="alice", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert resolver.resolve(key["AccessKeyId"]) is None
    iam("UpdateAccessKey", UserName="alice", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert resolver.resolve(key["AccessKeyId"]) is not None
    iam("DeleteAccessKey", UserName="alice", AccessKeyId=key["AccessKeyId"])
    assert resolver.resolve(key["AccessKeyId"]) is None


def test_a_renamed_user_signs_as_its_new_name(service: IamService, iam: Iam, root_key: FileRootKey) -> None:
    context = service.context
    accounts = AccountDirectory(context.store, root_key, context.clock, context.rng)
    resolver = CredentialResolver(context.store, root_key, accounts, clock=context.clock)
    service.add_write_listener(resolver.invalidate)
    user_id = iam.create_user("alice")["UserId"]
    put_inline(iam.store, "user", user_id, "allow-all")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    assert resolver.resolve(key_id) is not None
    iam("UpdateUser", UserName="alice", NewUserName="alicia", NewPath="/ops/")
    resolved = resolver.resolve(key_id)
    assert resolved is not None
    assert (resolved.principal.arn, resolved.principal.name) == (f"arn:aws:iam::{ACCOUNT}:user/ops/alicia", "alicia")


def test_unique_ids_are_the_prefix_and_seventeen_base32_characters() -> None:
    rng = SeededRandomSource(3)
    ids = {new_unique_id(rng, "AIDA") for _ in range(200)}
    assert len(ids) == 200
    assert all(
        len(i) == 21 and i.startswith("AIDA") and set(i[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for i in ids
    )


def test_paths_begin_and_end_with_a_slash_and_hold_at_most_512_characters() -> None:
    for good in ["/", "/a/", "/division/team-1/", "/" + "a" * 510 + "/"]:
        validate_path(good)
    for bad in ["", "a", "/a", "a/", "//", "/a b/"]:
        with aws_error("ValidationError"):
            validate_path(bad)
    with aws_error(
        "ValidationError",
        "1 validation error detected: Value at 'path' failed to satisfy constraint: "
        "Member must have length less than or equal to 512",
    ):
        validate_path("/" + "a" * 511 + "/")


def test_path_prefixes_match_as_plain_prefixes() -> None:
    assert path_matches("/division/eng/", "/")
    assert path_matches("/division/eng/", "/division/")
    assert path_matches("/divisions/", "/division")
    assert not path_matches("/", "/division/")
