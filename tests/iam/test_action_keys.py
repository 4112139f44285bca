"""Unit tests of the IAM condition-key table and of the stored-entity resources (issue 9, items 3 and 4)."""

from __future__ import annotations

from typing import Any

import pytest

from kmsd.iam.action_keys import ACTION_KEYS, condition_keys_for
from kmsd.iam.service import OPERATIONS
from kmsd.iam.session_policy_arns import check_session_policy_arns
from tests.iam.conftest import ACCOUNT, Iam, add_managed_policy, aws_error

OTHER_ACCOUNT = "222233334444"


def keys_of(iam: Iam, operation: str, **params: Any) -> dict[str, Any]:
    return dict(condition_keys_for(OPERATIONS[operation].action, iam.service.context, iam.caller, params))


def resource_of(iam: Iam, operation: str, **params: Any) -> str:
    return OPERATIONS[operation].resource(iam.service.context, iam.caller, params)


def test_every_operation_has_a_row_and_every_row_an_operation() -> None:
    assert {entry.action for entry in OPERATIONS.values()} == set(ACTION_KEYS)


def test_resources_name_the_stored_entity_whatever_the_spelling(iam: Iam) -> None:
    iam.create_user("admin", Path="/ops/")
    iam.create_group("Admins")
    iam.create_role("Prod", Path="/ci/")
    assert resource_of(iam, "CreateAccessKey", UserName="ADMIN") == f"arn:aws:iam::{ACCOUNT}:user/ops/admin"
    assert resource_of(iam, "AddUserToGroup", GroupName="ADMINS", UserName="x") == (
        f"arn:aws:iam::{ACCOUNT}:group/Admins"
    )
    assert resource_of(iam, "UpdateAssumeRolePolicy", RoleName="prod") == f"arn:aws:iam::{ACCOUNT}:role/ci/Prod"
    # An entity that does not exist is named as spelled, with path /.
    assert resource_of(iam, "GetUser", UserName="Ghost") == f"arn:aws:iam::{ACCOUNT}:user/Ghost"


def test_a_rename_is_also_authorized_on_the_new_name(iam: Iam) -> None:
    iam.create_user("bob", Path="/a/")
    also = OPERATIONS["UpdateUser"].also
    assert also is not None
    context, caller = iam.service.context, iam.caller
    assert also(context, caller, {"UserName": "BOB", "NewUserName": "vip"}) == f"arn:aws:iam::{ACCOUNT}:user/a/vip"
    assert also(context, caller, {"UserName": "bob", "NewPath": "/b/"}) == f"arn:aws:iam::{ACCOUNT}:user/b/bob"
    assert also(context, caller, {"UserName": "bob"}) is None


def test_user_keys_are_its_tags_and_boundary(iam: Iam) -> None:
    boundary = add_managed_policy(iam.store, ACCOUNT, "boundary")
    iam.create_user("alice", Tags=[{"Key": "Team", "Value": "blue"}], PermissionsBoundary=boundary)
    assert keys_of(iam, "AttachUserPolicy", UserName="ALICE", PolicyArn="arn:aws:iam::aws:policy/X") == {
        "aws:ResourceTag/Team": "blue",
        "iam:ResourceTag/Team": "blue",
        "iam:PermissionsBoundary": boundary,
        "iam:PolicyARN": "arn:aws:iam::aws:policy/X",
    }
    assert keys_of(iam, "GetUser", UserName="alice") == {"aws:ResourceTag/Team": "blue", "iam:ResourceTag/Team": "blue"}
    # An untagged user without a boundary adds nothing, so conditions see the keys as absent.
    iam.create_user("plain")
    assert keys_of(iam, "PutUserPolicy", UserName="plain") == {}


def test_create_and_put_boundary_use_the_requested_boundary(iam: Iam) -> None:
    iam.create_role("deployer")
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert keys_of(iam, "PutRolePermissionsBoundary", RoleName="deployer", PermissionsBoundary=arn) == {
        "iam:PermissionsBoundary": arn
    }
    assert keys_of(iam, "CreatePolicy", PolicyName="p", Tags=[{"Key": "k", "Value": "v"}]) == {
        "aws:RequestTag/k": "v",
        "aws:TagKeys": ["k"],
    }


def test_policies_carry_their_tags(iam: Iam) -> None:
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}'
    created = iam(
        "CreatePolicy", PolicyName="locked", PolicyDocument=document, Tags=[{"Key": "locked", "Value": "yes"}]
    )
    assert keys_of(iam, "CreatePolicyVersion", PolicyArn=created["Policy"]["Arn"]) == {
        "aws:ResourceTag/locked": "yes",
        "iam:ResourceTag/locked": "yes",
    }


def test_session_policy_arns_must_be_the_roles_account_or_aws(iam: Iam) -> None:
    own = add_managed_policy(iam.store, ACCOUNT, "own")
    foreign = add_managed_policy(iam.store, OTHER_ACCOUNT, "foreign")
    check_session_policy_arns(iam.store, ACCOUNT, [own, "arn:aws:iam::aws:policy/IAMReadOnlyAccess"])
    for arn in (foreign, f"arn:aws:iam::{ACCOUNT}:policy/missing"):
        with aws_error("MalformedPolicyDocument", f"Policy {arn} does not exist or is not attachable.", 400):
            check_session_policy_arns(iam.store, ACCOUNT, [own, arn])


@pytest.mark.parametrize("operation", ["AddUserToGroup", "ListGroups", "CreateGroup"])
def test_groups_have_no_tags(iam: Iam, operation: str) -> None:
    iam.create_group("g")
    assert keys_of(iam, operation, GroupName="g", UserName="u") == {}
