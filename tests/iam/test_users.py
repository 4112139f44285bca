"""CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser and the user tag operations, with AWS's errors."""

from __future__ import annotations

import re
from datetime import timedelta

from kmsd.clock import ManualClock

from .conftest import ACCOUNT, OTHER_ACCOUNT, Iam, add_managed_policy, attach, aws_error, put_inline

UNIQUE_ID = re.compile(r"AIDA[A-Z2-7]{17}")


def test_create_user_answers_with_the_user_and_its_arn(iam: Iam, clock: ManualClock) -> None:
    user = iam.create_user("alice")
    assert UNIQUE_ID.fullmatch(user.pop("UserId"))
    assert user == {
        "Path": "/",
        "UserName": "alice",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "CreateDate": clock.now(),
    }


def test_create_user_with_a_path_puts_the_path_in_the_arn(iam: Iam) -> None:
    user = iam.create_user("bob", Path="/division/team/")
    assert user["Path"] == "/division/team/"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/division/team/bob"


def test_create_user_refuses_a_path_that_does_not_begin_and_end_with_a_slash(iam: Iam) -> None:
    with aws_error(
        "ValidationError",
        "The specified value for path is invalid. It must begin and end with / and contain only "
        "alphanumeric characters and/or / characters.",
        400,
    ):
        iam.create_user("bob", Path="division")
    assert iam("ListUsers")["Users"] == []


def test_create_user_twice_is_entity_already_exists_whatever_the_case(iam: Iam) -> None:
    iam.create_user("alice")
    with aws_error("EntityAlreadyExists", "User with name alice already exists.", 409):
        iam.create_user("alice")
    # IAM names are unique case-insensitively ("IAM identifiers": names are not distinguished by case).
    with aws_error("EntityAlreadyExists", "User with name ALICE already exists.", 409):
        iam.create_user("ALICE")


def test_users_of_different_accounts_do_not_collide(iam: Iam) -> None:
    iam.create_user("alice")
    other = iam.as_root(OTHER_ACCOUNT).create_user("alice")
    assert other["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice"
    assert [u["UserName"] for u in iam.as_root(OTHER_ACCOUNT)("ListUsers")["Users"]] == ["alice"]


def test_create_user_with_a_permissions_boundary(iam: Iam) -> None:
    boundary = add_managed_policy(iam.store, ACCOUNT, "Boundary")
    created = iam.create_user("alice", PermissionsBoundary=boundary)
    expected = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert created["PermissionsBoundary"] == expected
    assert iam("GetUser", UserName="alice")["User"]["PermissionsBoundary"] == expected


def test_create_user_with_a_boundary_that_does_not_exist_is_no_such_entity(iam: Iam) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:policy/Missing"
    with aws_error("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.", 404):
        iam.create_user("alice", PermissionsBoundary=missing)
    assert iam.store.get_user(ACCOUNT, "alice") is None


def test_a_boundary_of_another_account_is_not_attachable(iam: Iam) -> None:
    foreign = add_managed_policy(iam.store, OTHER_ACCOUNT, "Theirs")
    with aws_error("NoSuchEntity", f"Scope ARN: {foreign} does not exist or is not attachable.", 404):
        iam.create_user("alice", PermissionsBoundary=foreign)


def test_create_user_with_tags(iam: Iam) -> None:
    created = iam.create_user("alice", Tags=[{"Key": "team", "Value": "kms"}, {"Key": "Env", "Value": ""}])
    expected = [{"Key": "Env", "Value": ""}, {"Key": "team", "Value": "kms"}]
    assert created["Tags"] == expected
    assert iam("GetUser", UserName="alice")["User"]["Tags"] == expected
    assert iam("ListUserTags", UserName="alice") == {"Tags": expected, "IsTruncated": False}


def test_create_user_refuses_duplicate_tag_keys_in_any_case(iam: Iam) -> None:
    with aws_error("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400):
        iam.create_user("alice", Tags=[{"Key": "team", "Value": "a"}, {"Key": "Team", "Value": "b"}])
    assert iam.store.get_user(ACCOUNT, "alice") is None


def test_tag_keys_starting_with_aws_are_reserved(iam: Iam) -> None:
    iam.create_user("alice")
    with aws_error("InvalidInput", "User-defined tag keys can't start with the prefix aws:.", 400):
        iam("TagUser", UserName="alice", Tags=[{"Key": "AWS:team", "Value": "x"}])
    assert iam("ListUserTags", UserName="alice")["Tags"] == []


def test_get_user_of_an_unknown_name_is_no_such_entity(iam: Iam) -> None:
    with aws_error("NoSuchEntity", "The user with name nobody cannot be found.", 404):
        iam("GetUser", UserName="nobody")


def test_get_user_finds_names_case_insensitively(iam: Iam) -> None:
    iam.create_user("Alice")
    assert iam("GetUser", UserName="alice")["User"]["UserName"] == "Alice"


def test_get_user_without_a_name_as_root_answers_with_the_root_user(iam: Iam, clock: ManualClock) -> None:
    # The root "user" has no UserName or Path; its UserId is the account id.
    assert iam("GetUser") == {
        "User": {"UserId": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root", "CreateDate": clock.now()}
    }


def test_get_user_without_a_name_as_a_user_answers_with_that_user(iam: Iam) -> None:
    created = iam.create_user("alice", Path="/ops/", Tags=[{"Key": "k", "Value": "v"}])
    put_inline(iam.store, "user", created["UserId"], "allow-all")
    assert iam.as_user("alice")("GetUser")["User"] == created


def test_get_user_without_a_name_from_a_role_session_needs_a_name(iam: Iam) -> None:
    role_id = iam.create_role("deployer")["RoleId"]
    put_inline(iam.store, "role", role_id, "allow-all")
    with aws_error("ValidationError", "Must specify userName when calling with non-User credentials", 400):
        iam.as_role_session("deployer")("GetUser")


def test_list_users_is_ordered_by_name_and_leaves_out_tags_and_boundaries(iam: Iam) -> None:
    boundary = add_managed_policy(iam.store, ACCOUNT, "Boundary")
    iam.create_user("carol", Tags=[{"Key": "k", "Value": "v"}], PermissionsBoundary=boundary)
    iam.create_user("alice")
    iam.create_user("Bob")
    listed = iam("ListUsers")
    assert [u["UserName"] for u in listed["Users"]] == ["alice", "Bob", "carol"]
    assert listed["IsTruncated"] is False
    assert "Marker" not in listed
    assert all(set(u) == {"Path", "UserName", "UserId", "Arn", "CreateDate"} for u in listed["Users"])


def test_list_users_filters_by_path_prefix(iam: Iam) -> None:
    iam.create_user("root-level")
    iam.create_user("eng", Path="/division/eng/")
    iam.create_user("ops", Path="/division/ops/")
    iam.create_user("other", Path="/divisions/")
    names = [u["UserName"] for u in iam("ListUsers", PathPrefix="/division/")["Users"]]
    assert names == ["eng", "ops"]
    assert len(iam("ListUsers", PathPrefix="/")["Users"]) == 4


def test_list_users_pages_with_marker_and_max_items(iam: Iam) -> None:
    for name in ["u1", "u2", "u3", "u4", "u5"]:
        iam.create_user(name)
    first = iam("ListUsers", MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == ["u1", "u2"]
    assert first["IsTruncated"] is True
    second = iam("ListUsers", MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == ["u3", "u4"]
    # A user created between pages after the marker shows up; the marker names a position, not an offset.
    iam.create_user("u35")
    third = iam("ListUsers", MaxItems=2, Marker=second["Marker"])
    assert [u["UserName"] for u in third["Users"]] == ["u5"]
    assert third["IsTruncated"] is False
    assert "Marker" not in third


def test_list_users_refuses_a_marker_it_did_not_issue(iam: Iam) -> None:
    iam.create_user("alice")
    with aws_error("ValidationError", "Invalid Marker.", 400):
        iam("ListUsers", Marker="not-a-marker")
    iam.create_group("g1")
    iam.create_group("g2")
    groups_marker = iam("ListGroups", MaxItems=1)["Marker"]
    with aws_error("ValidationError", "Invalid Marker.", 400):
        iam("ListUsers", Marker=groups_marker)


def test_update_user_renames_and_moves_the_user(iam: Iam) -> None:
    created = iam.create_user("alice")
    key = iam("CreateAccessKey", UserName="alice")["AccessKey"]
    assert iam("UpdateUser", UserName="alice", NewUserName="alicia", NewPath="/ops/") == {}
    with aws_error("NoSuchEntity", "The user with name alice cannot be found.", 404):
        iam("GetUser", UserName="alice")
    renamed = iam("GetUser", UserName="alicia")["User"]
    assert renamed["UserId"] == created["UserId"]
    assert renamed["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/alicia"
    # The key follows its user: its record names the new ARN.
    record = iam.store.get_access_key(key["AccessKeyId"])
    assert record is not None
    assert record.principal_arn == renamed["Arn"]
    assert iam("ListAccessKeys", UserName="alicia")["AccessKeyMetadata"][0]["UserName"] == "alicia"


def test_update_user_to_a_taken_name_is_entity_already_exists(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_user("bob")
    with aws_error("EntityAlreadyExists", "User with name bob already exists.", 409):
        iam("UpdateUser", UserName="alice", NewUserName="bob")
    assert iam("GetUser", UserName="alice")["User"]["UserName"] == "alice"


def test_update_user_may_change_only_the_case_of_its_own_name(iam: Iam) -> None:
    iam.create_user("alice")
    iam("UpdateUser", UserName="alice", NewUserName="Alice")
    assert iam("GetUser", UserName="alice")["User"]["UserName"] == "Alice"


def test_update_user_of_an_unknown_user_and_with_a_bad_path(iam: Iam) -> None:
    with aws_error("NoSuchEntity", "The user with name nobody cannot be found.", 404):
        iam("UpdateUser", UserName="nobody", NewUserName="somebody")
    iam.create_user("alice")
    with aws_error(
        "ValidationError",
        "The specified value for newPath is invalid. It must begin and end with / and contain only "
        "alphanumeric characters and/or / characters.",
    ):
        iam("UpdateUser", UserName="alice", NewPath="ops")


def test_delete_user(iam: Iam) -> None:
    iam.create_user("alice")
    assert iam("DeleteUser", UserName="alice") == {}
    with aws_error("NoSuchEntity", "The user with name alice cannot be found.", 404):
        iam("GetUser", UserName="alice")
    with aws_error("NoSuchEntity", "The user with name alice cannot be found.", 404):
        iam("DeleteUser", UserName="alice")


def test_delete_user_is_refused_while_it_has_access_keys(iam: Iam) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    with aws_error("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409):
        iam("DeleteUser", UserName="alice")
    iam("DeleteAccessKey", UserName="alice", AccessKeyId=key_id)
    iam("DeleteUser", UserName="alice")


def test_delete_user_is_refused_while_it_has_inline_policies(iam: Iam) -> None:
    user_id = iam.create_user("alice")["UserId"]
    put_inline(iam.store, "user", user_id, "inline")
    with aws_error("DeleteConflict", "Cannot delete entity, must delete policies first.", 409):
        iam("DeleteUser", UserName="alice")
    iam.store.delete_inline_policy("user", user_id, "inline")
    iam("DeleteUser", UserName="alice")


def test_delete_user_is_refused_while_it_has_attached_policies(iam: Iam) -> None:
    user_id = iam.create_user("alice")["UserId"]
    arn = add_managed_policy(iam.store, ACCOUNT, "Attached")
    attach(iam.store, "user", user_id, arn)
    with aws_error("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409):
        iam("DeleteUser", UserName="alice")
    iam.store.detach_policy("user", user_id, arn)
    iam("DeleteUser", UserName="alice")


def test_delete_user_is_refused_while_it_is_in_a_group(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("admins")
    iam("AddUserToGroup", GroupName="admins", UserName="alice")
    with aws_error("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409):
        iam("DeleteUser", UserName="alice")
    iam("RemoveUserFromGroup", GroupName="admins", UserName="alice")
    iam("DeleteUser", UserName="alice")


def test_a_permissions_boundary_does_not_block_deleting_a_user(iam: Iam) -> None:
    boundary = add_managed_policy(iam.store, ACCOUNT, "Boundary")
    iam.create_user("alice", PermissionsBoundary=boundary)
    iam("DeleteUser", UserName="alice")
    assert iam("ListUsers")["Users"] == []


def test_tag_user_adds_and_replaces_tags_case_insensitively(iam: Iam) -> None:
    iam.create_user("alice", Tags=[{"Key": "Department", "Value": "finance"}])
    assert iam("TagUser", UserName="alice", Tags=[{"Key": "env", "Value": "prod"}]) == {}
    # Tag keys of users are not case-sensitive; the new spelling replaces the old tag.
    iam("TagUser", UserName="alice", Tags=[{"Key": "department", "Value": "hr"}])
    assert iam("ListUserTags", UserName="alice")["Tags"] == [
        {"Key": "department", "Value": "hr"},
        {"Key": "env", "Value": "prod"},
    ]


def test_untag_user_removes_keys_case_insensitively_and_ignores_unknown_keys(iam: Iam) -> None:
    iam.create_user("alice", Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "b"}])
    assert iam("UntagUser", UserName="alice", TagKeys=["TEAM", "never-there"]) == {}
    assert iam("ListUserTags", UserName="alice")["Tags"] == [{"Key": "env", "Value": "b"}]


def test_a_user_holds_at_most_fifty_tags(iam: Iam) -> None:
    iam.create_user("alice", Tags=[{"Key": f"k{i:02}", "Value": "v"} for i in range(50)])
    with aws_error("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50", 409):
        iam("TagUser", UserName="alice", Tags=[{"Key": "one-more", "Value": "v"}])
    # Replacing an existing tag does not add one.
    iam("TagUser", UserName="alice", Tags=[{"Key": "K00", "Value": "new"}])
    assert len(iam("ListUserTags", UserName="alice")["Tags"]) == 50


def test_list_user_tags_pages(iam: Iam) -> None:
    iam.create_user("alice", Tags=[{"Key": k, "Value": k.upper()} for k in ["a", "b", "c"]])
    first = iam("ListUserTags", UserName="alice", MaxItems=2)
    assert first["Tags"] == [{"Key": "a", "Value": "A"}, {"Key": "b", "Value": "B"}]
    rest = iam("ListUserTags", UserName="alice", MaxItems=2, Marker=first["Marker"])
    assert rest == {"Tags": [{"Key": "c", "Value": "C"}], "IsTruncated": False}


def test_tag_operations_on_an_unknown_user_are_no_such_entity(iam: Iam) -> None:
    message = "The user with name nobody cannot be found."
    with aws_error("NoSuchEntity", message, 404):
        iam("TagUser", UserName="nobody", Tags=[{"Key": "k", "Value": "v"}])
    with aws_error("NoSuchEntity", message, 404):
        iam("UntagUser", UserName="nobody", TagKeys=["k"])
    with aws_error("NoSuchEntity", message, 404):
        iam("ListUserTags", UserName="nobody")


def test_create_date_is_the_clock_time_of_creation(iam: Iam, clock: ManualClock) -> None:
    first = iam.create_user("first")
    clock.advance(timedelta(hours=1))
    second = iam.create_user("second")
    assert second["CreateDate"] - first["CreateDate"] == timedelta(hours=1)


def test_list_users_answers_at_most_100_users_without_max_items(iam: Iam) -> None:
    for i in range(101):
        iam.create_user(f"user{i:03}")
    first = iam("ListUsers")
    assert len(first["Users"]) == 100
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in iam("ListUsers", Marker=first["Marker"])["Users"]] == ["user100"]
