"""CreateRole, GetRole, ListRoles, UpdateRole, UpdateAssumeRolePolicy, DeleteRole and role tags, with AWS's errors."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from kmsd.clock import ManualClock

from .conftest import (
    ACCOUNT,
    OTHER_ACCOUNT,
    TRUST_ACCOUNT_ROOT,
    TRUST_EC2,
    Iam,
    add_managed_policy,
    attach,
    aws_error,
    put_inline,
)


def trust(principal: dict[str, object], **extra: object) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_create_role_answers_with_the_role(iam: Iam, clock: ManualClock) -> None:
    role = iam.create_role("deployer", Path="/ci/", Description="deploys things")
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role.pop("RoleId"))
    assert role.pop("AssumeRolePolicyDocument") is not None
    assert role == {
        "Path": "/ci/",
        "RoleName": "deployer",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/ci/deployer",
        "CreateDate": clock.now(),
        "Description": "deploys things",
        "MaxSessionDuration": 3600,
    }


def test_the_trust_policy_comes_back_url_encoded(iam: Iam) -> None:
    # GetRole: "The policy is returned as a URL-encoded JSON string"; boto3 decodes it.
    document = trust({"Service": "ec2.amazonaws.com"}, Sid="Trust EC2")
    encoded = iam.create_role("web", document)["AssumeRolePolicyDocument"]
    assert encoded.startswith("%7B%22Version%22%3A%20%222012-10-17%22")
    assert unquote(encoded) == document
    got = iam("GetRole", RoleName="web")["Role"]
    assert unquote(got["AssumeRolePolicyDocument"]) == document
    assert unquote(iam("ListRoles")["Roles"][0]["AssumeRolePolicyDocument"]) == document


def test_get_role_shows_boundary_tags_and_last_used(iam: Iam) -> None:
    boundary = add_managed_policy(iam.store, ACCOUNT, "Boundary")
    iam.create_role(
        "deployer", PermissionsBoundary=boundary, Tags=[{"Key": "team", "Value": "kms"}], MaxSessionDuration=7200
    )
    role = iam("GetRole", RoleName="deployer")["Role"]
    assert role["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary,
    }
    assert role["Tags"] == [{"Key": "team", "Value": "kms"}]
    assert role["MaxSessionDuration"] == 7200
    assert role["RoleLastUsed"] == {}
    assert "Description" not in role


def test_create_role_twice_is_entity_already_exists(iam: Iam) -> None:
    iam.create_role("deployer")
    with aws_error("EntityAlreadyExists", "Role with name Deployer already exists.", 409):
        iam.create_role("Deployer")


def test_a_trust_policy_needs_a_principal(iam: Iam) -> None:
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}'
    with aws_error("MalformedPolicyDocument", "Missing required field Principal", 400):
        iam.create_role("deployer", document)
    assert iam("ListRoles")["Roles"] == []


def test_a_trust_policy_may_not_name_a_resource(iam: Iam) -> None:
    with aws_error("MalformedPolicyDocument", "Has prohibited field Resource", 400):
        iam.create_role("deployer", trust({"Service": "ec2.amazonaws.com"}, Resource="*"))


def test_a_trust_policy_that_is_not_json_is_malformed(iam: Iam) -> None:
    with aws_error("MalformedPolicyDocument", "Syntax errors in policy.", 400):
        iam.create_role("deployer", "{not json")


def test_a_trust_policy_may_not_name_a_user_that_does_not_exist(iam: Iam) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:user/nobody"
    with aws_error("MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{missing}"', 400):
        iam.create_role("deployer", trust({"AWS": missing}))
    iam.create_user("nobody")
    iam.create_role("deployer", trust({"AWS": missing}))
    # Account principals, other accounts' roots and services are not looked up.
    iam.create_role("cross", trust({"AWS": [OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root"]}))


def test_a_trust_policy_is_limited_to_2048_characters_without_white_space(iam: Iam) -> None:
    conditions = {"StringEquals": {"sts:ExternalId": ["x" * 40 + str(i) for i in range(60)]}}
    with aws_error("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409):
        iam.create_role("deployer", trust({"AWS": ACCOUNT}, Condition=conditions))


def test_max_session_duration_is_one_to_twelve_hours(iam: Iam) -> None:
    with aws_error(
        "ValidationError",
        "1 validation error detected: Value '43201' at 'maxSessionDuration' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200",
    ):
        iam.create_role("deployer", MaxSessionDuration=43201)
    with aws_error(
        "ValidationError",
        "1 validation error detected: Value '3599' at 'maxSessionDuration' failed to satisfy constraint: "
        "Member must have value greater than or equal to 3600",
    ):
        iam.create_role("deployer", MaxSessionDuration=3599)
    assert iam.create_role("deployer", MaxSessionDuration=43200)["MaxSessionDuration"] == 43200


def test_create_role_with_a_boundary_that_does_not_exist_is_no_such_entity(iam: Iam) -> None:
    missing = "arn:aws:iam::aws:policy/NoSuchPolicy"
    with aws_error("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.", 404):
        iam.create_role("deployer", PermissionsBoundary=missing)


def test_get_role_of_an_unknown_name_is_no_such_entity(iam: Iam) -> None:
    with aws_error("NoSuchEntity", "The role with name nobody cannot be found.", 404):
        iam("GetRole", RoleName="nobody")


def test_list_roles_by_path_prefix_in_pages_without_tags(iam: Iam) -> None:
    iam.create_role("b", Path="/svc/", Tags=[{"Key": "k", "Value": "v"}])
    iam.create_role("a", Path="/svc/")
    iam.create_role("c", TRUST_EC2)
    listed = iam("ListRoles")
    assert [r["RoleName"] for r in listed["Roles"]] == ["a", "b", "c"]
    assert all("Tags" not in r and "RoleLastUsed" not in r for r in listed["Roles"])
    assert [r["RoleName"] for r in iam("ListRoles", PathPrefix="/svc/")["Roles"]] == ["a", "b"]
    first = iam("ListRoles", MaxItems=2)
    assert first["IsTruncated"] is True
    assert [r["RoleName"] for r in iam("ListRoles", Marker=first["Marker"])["Roles"]] == ["c"]


def test_update_assume_role_policy_validates_and_replaces_the_document(iam: Iam) -> None:
    iam.create_role("deployer")
    with aws_error("MalformedPolicyDocument", "Missing required field Principal", 400):
        iam(
            "UpdateAssumeRolePolicy",
            RoleName="deployer",
            PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}',
        )
    assert unquote(iam("GetRole", RoleName="deployer")["Role"]["AssumeRolePolicyDocument"]) == TRUST_ACCOUNT_ROOT
    assert iam("UpdateAssumeRolePolicy", RoleName="deployer", PolicyDocument=TRUST_EC2) == {}
    assert unquote(iam("GetRole", RoleName="deployer")["Role"]["AssumeRolePolicyDocument"]) == TRUST_EC2
    with aws_error("NoSuchEntity", "The role with name nobody cannot be found.", 404):
        iam("UpdateAssumeRolePolicy", RoleName="nobody", PolicyDocument=TRUST_EC2)


def test_update_role_changes_description_and_session_duration(iam: Iam) -> None:
    iam.create_role("deployer", Description="old")
    assert iam("UpdateRole", RoleName="deployer", MaxSessionDuration=10800) == {}
    role = iam("GetRole", RoleName="deployer")["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("old", 10800)
    iam("UpdateRole", RoleName="deployer", Description="new")
    assert iam("GetRole", RoleName="deployer")["Role"]["MaxSessionDuration"] == 10800
    updated = iam("UpdateRoleDescription", RoleName="deployer", Description="newer")["Role"]
    assert updated["Description"] == "newer"
    with aws_error("ValidationError"):
        iam("UpdateRole", RoleName="deployer", MaxSessionDuration=60)
    with aws_error("NoSuchEntity", "The role with name nobody cannot be found.", 404):
        iam("UpdateRole", RoleName="nobody", Description="x")


def test_delete_role(iam: Iam) -> None:
    iam.create_role("deployer")
    assert iam("DeleteRole", RoleName="deployer") == {}
    with aws_error("NoSuchEntity", "The role with name deployer cannot be found.", 404):
        iam("DeleteRole", RoleName="deployer")


def test_delete_role_is_refused_while_it_has_policies(iam: Iam) -> None:
    role_id = iam.create_role("deployer")["RoleId"]
    put_inline(iam.store, "role", role_id, "inline")
    with aws_error("DeleteConflict", "Cannot delete entity, must delete policies first.", 409):
        iam("DeleteRole", RoleName="deployer")
    iam.store.delete_inline_policy("role", role_id, "inline")
    arn = add_managed_policy(iam.store, ACCOUNT, "Attached")
    attach(iam.store, "role", role_id, arn)
    with aws_error("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409):
        iam("DeleteRole", RoleName="deployer")
    iam.store.detach_policy("role", role_id, arn)
    iam("DeleteRole", RoleName="deployer")


def test_role_tags(iam: Iam) -> None:
    iam.create_role("deployer", Tags=[{"Key": "Team", "Value": "a"}])
    assert iam("TagRole", RoleName="deployer", Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "p"}]) == {}
    assert iam("ListRoleTags", RoleName="deployer") == {
        "Tags": [{"Key": "env", "Value": "p"}, {"Key": "team", "Value": "b"}],
        "IsTruncated": False,
    }
    assert iam("UntagRole", RoleName="deployer", TagKeys=["ENV"]) == {}
    assert iam("ListRoleTags", RoleName="deployer")["Tags"] == [{"Key": "team", "Value": "b"}]
    with aws_error("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400):
        iam("TagRole", RoleName="deployer", Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    with aws_error("NoSuchEntity", "The role with name nobody cannot be found.", 404):
        iam("TagRole", RoleName="nobody", Tags=[{"Key": "x", "Value": "1"}])


def test_a_role_holds_at_most_fifty_tags(iam: Iam) -> None:
    iam.create_role("deployer", Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
    with aws_error("LimitExceeded", "Cannot exceed quota for TagsPerRole: 50", 409):
        iam("TagRole", RoleName="deployer", Tags=[{"Key": "extra", "Value": ""}])
    assert len(iam("ListRoleTags", RoleName="deployer")["Tags"]) == 50
