"""CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup and group membership, with AWS's errors."""

from __future__ import annotations

import re

from kmsd.clock import ManualClock

from .conftest import ACCOUNT, Iam, add_managed_policy, attach, aws_error, put_inline


def test_create_group_answers_with_the_group(iam: Iam, clock: ManualClock) -> None:
    group = iam.create_group("admins", Path="/ops/")
    assert re.fullmatch(r"AGPA[A-Z2-7]{17}", group.pop("GroupId"))
    assert group == {
        "Path": "/ops/",
        "GroupName": "admins",
        "Arn": f"arn:aws:iam::{ACCOUNT}:group/ops/admins",
        "CreateDate": clock.now(),
    }


def test_create_group_twice_is_entity_already_exists(iam: Iam) -> None:
    iam.create_group("admins")
    with aws_error("EntityAlreadyExists", "Group with name Admins already exists.", 409):
        iam.create_group("Admins")


def test_create_group_refuses_a_bad_path(iam: Iam) -> None:
    with aws_error("ValidationError"):
        iam.create_group("admins", Path="/no-trailing-slash")
    assert iam("ListGroups")["Groups"] == []


def test_get_group_lists_its_members_in_pages(iam: Iam) -> None:
    group = iam.create_group("admins")
    for name in ["carol", "alice", "bob"]:
        iam.create_user(name, Tags=[{"Key": "k", "Value": "v"}])
        iam("AddUserToGroup", GroupName="admins", UserName=name)
    first = iam("GetGroup", GroupName="admins", MaxItems=2)
    assert first["Group"] == group
    assert [u["UserName"] for u in first["Users"]] == ["alice", "bob"]
    assert first["IsTruncated"] is True
    # GetGroup's users are the list form: no tags or boundary.
    assert all("Tags" not in u for u in first["Users"])
    rest = iam("GetGroup", GroupName="admins", MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["carol"]
    assert rest["IsTruncated"] is False


def test_get_group_of_an_unknown_name_is_no_such_entity(iam: Iam) -> None:
    with aws_error("NoSuchEntity", "The group with name nobody cannot be found.", 404):
        iam("GetGroup", GroupName="nobody")


def test_list_groups_by_path_prefix_and_in_pages(iam: Iam) -> None:
    iam.create_group("b", Path="/eng/")
    iam.create_group("a", Path="/eng/")
    iam.create_group("c")
    assert [g["GroupName"] for g in iam("ListGroups")["Groups"]] == ["a", "b", "c"]
    assert [g["GroupName"] for g in iam("ListGroups", PathPrefix="/eng/")["Groups"]] == ["a", "b"]
    first = iam("ListGroups", MaxItems=1)
    second = iam("ListGroups", MaxItems=1, Marker=first["Marker"])
    third = iam("ListGroups", MaxItems=1, Marker=second["Marker"])
    assert [p["Groups"][0]["GroupName"] for p in (first, second, third)] == ["a", "b", "c"]
    assert (first["IsTruncated"], second["IsTruncated"], third["IsTruncated"]) == (True, True, False)


def test_update_group_renames_and_keeps_its_members(iam: Iam) -> None:
    group_id = iam.create_group("admins")["GroupId"]
    iam.create_user("alice")
    iam("AddUserToGroup", GroupName="admins", UserName="alice")
    assert iam("UpdateGroup", GroupName="admins", NewGroupName="operators", NewPath="/ops/") == {}
    renamed = iam("GetGroup", GroupName="operators")
    assert renamed["Group"]["GroupId"] == group_id
    assert renamed["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/ops/operators"
    assert [u["UserName"] for u in renamed["Users"]] == ["alice"]
    with aws_error("NoSuchEntity", "The group with name admins cannot be found.", 404):
        iam("GetGroup", GroupName="admins")


def test_update_group_to_a_taken_name_is_entity_already_exists(iam: Iam) -> None:
    iam.create_group("a")
    iam.create_group("b")
    with aws_error("EntityAlreadyExists", "Group with name b already exists.", 409):
        iam("UpdateGroup", GroupName="a", NewGroupName="b")
    with aws_error("NoSuchEntity", "The group with name z cannot be found.", 404):
        iam("UpdateGroup", GroupName="z", NewGroupName="y")


def test_add_user_to_group_is_idempotent_and_listed_for_the_user(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("b-team")
    iam.create_group("a-team")
    for group in ["b-team", "a-team", "b-team"]:
        assert iam("AddUserToGroup", GroupName=group, UserName="alice") == {}
    listed = iam("ListGroupsForUser", UserName="alice")
    assert [g["GroupName"] for g in listed["Groups"]] == ["a-team", "b-team"]
    assert listed["IsTruncated"] is False
    first = iam("ListGroupsForUser", UserName="alice", MaxItems=1)
    assert first["IsTruncated"] is True
    assert iam("ListGroupsForUser", UserName="alice", Marker=first["Marker"])["Groups"][0]["GroupName"] == "b-team"


def test_add_user_to_group_needs_both_to_exist(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("admins")
    with aws_error("NoSuchEntity", "The group with name nobody cannot be found.", 404):
        iam("AddUserToGroup", GroupName="nobody", UserName="alice")
    with aws_error("NoSuchEntity", "The user with name nobody cannot be found.", 404):
        iam("AddUserToGroup", GroupName="admins", UserName="nobody")
    with aws_error("NoSuchEntity", "The user with name nobody cannot be found.", 404):
        iam("ListGroupsForUser", UserName="nobody")


def test_a_user_may_be_in_at_most_ten_groups(iam: Iam) -> None:
    iam.create_user("alice")
    for i in range(11):
        iam.create_group(f"g{i:02}")
    for i in range(10):
        iam("AddUserToGroup", GroupName=f"g{i:02}", UserName="alice")
    with aws_error("LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10", 409):
        iam("AddUserToGroup", GroupName="g10", UserName="alice")
    # Adding again to a group it is already in is not a new membership.
    iam("AddUserToGroup", GroupName="g00", UserName="alice")
    assert len(iam("ListGroupsForUser", UserName="alice")["Groups"]) == 10


def test_remove_user_from_group(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("admins")
    iam("AddUserToGroup", GroupName="admins", UserName="alice")
    assert iam("RemoveUserFromGroup", GroupName="admins", UserName="alice") == {}
    assert iam("GetGroup", GroupName="admins")["Users"] == []
    with aws_error("NoSuchEntity", "User alice is not in group admins.", 404):
        iam("RemoveUserFromGroup", GroupName="admins", UserName="alice")


def test_delete_group(iam: Iam) -> None:
    iam.create_group("admins")
    assert iam("DeleteGroup", GroupName="admins") == {}
    with aws_error("NoSuchEntity", "The group with name admins cannot be found.", 404):
        iam("DeleteGroup", GroupName="admins")


def test_delete_group_is_refused_while_it_has_members(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("admins")
    iam("AddUserToGroup", GroupName="admins", UserName="alice")
    with aws_error("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409):
        iam("DeleteGroup", GroupName="admins")
    assert [u["UserName"] for u in iam("GetGroup", GroupName="admins")["Users"]] == ["alice"]


def test_delete_group_is_refused_while_it_has_policies(iam: Iam) -> None:
    group_id = iam.create_group("admins")["GroupId"]
    put_inline(iam.store, "group", group_id, "inline")
    with aws_error("DeleteConflict", "Cannot delete entity, must delete policies first.", 409):
        iam("DeleteGroup", GroupName="admins")
    iam.store.delete_inline_policy("group", group_id, "inline")
    arn = add_managed_policy(iam.store, ACCOUNT, "Attached")
    attach(iam.store, "group", group_id, arn)
    with aws_error("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409):
        iam("DeleteGroup", GroupName="admins")
    iam.store.detach_policy("group", group_id, arn)
    iam("DeleteGroup", GroupName="admins")
    assert iam("ListGroups")["Groups"] == []
