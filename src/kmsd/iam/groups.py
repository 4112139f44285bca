"""IAM groups and their members: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
AddUserToGroup, RemoveUserFromGroup and ListGroupsForUser.

Behaviour and wording follow the IAM API reference for each action and the
"IAM and AWS STS quotas" page (300 groups per account, 10 groups per user).
Membership is by id, so renaming a group or a user keeps it.  DeleteGroup
refuses with ``DeleteConflict`` while the group has members, inline policies
or attached managed policies ("Deleting an IAM group").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.ids import GROUP_ID_PREFIX, new_unique_id, validate_path
from kmsd.iam.lookup import group_named, no_such_entity, user_named
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.iam.users import delete_conflict, user_shape
from kmsd.store.base import Conflict
from kmsd.store.models import IamGroup

MAX_GROUPS_PER_ACCOUNT = 300  # "IAM and AWS STS quotas": groups in an AWS account
MAX_GROUPS_PER_USER = 10  # "IAM and AWS STS quotas": groups an IAM user can be a member of


def group_exists(group_name: str) -> AwsError:
    return AwsError("EntityAlreadyExists", f"Group with name {group_name} already exists.", 409)


def group_shape(group: IamGroup) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.group_name,
        "GroupId": group.group_id,
        "Arn": group.arn,
        "CreateDate": group.created_at,
    }


def create_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    group_name = str(params["GroupName"])
    path = str(params.get("Path") or "/")
    validate_path(path)
    if ctx.store.get_group(account_id, group_name) is not None:
        raise group_exists(group_name)
    if len(ctx.store.list_groups(account_id)) >= MAX_GROUPS_PER_ACCOUNT:
        raise AwsError("LimitExceeded", f"Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS_PER_ACCOUNT}", 409)
    group = IamGroup(
        group_id=new_unique_id(ctx.rng, GROUP_ID_PREFIX),
        account_id=account_id,
        group_name=group_name,
        path=path,
        created_at=ctx.clock.now(),
    )
    try:
        ctx.store.insert_group(group)
    except Conflict:
        raise group_exists(group_name) from None
    return {"Group": group_shape(group)}


def get_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    group = group_named(ctx, caller.principal.account_id, str(params["GroupName"]))
    members = ctx.store.list_group_members(group.group_id)
    page = paginate(members, lambda user: user.user_name.lower(), f"group-members/{group.group_id}", params)
    return {
        "Group": group_shape(group),
        "Users": [user_shape(user) for user in page.items],
        **page.response_members(),
    }


def list_groups(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    prefix = str(params.get("PathPrefix") or "/")
    groups = ctx.store.list_groups(caller.principal.account_id, prefix)
    page = paginate(groups, lambda group: group.group_name.lower(), "groups", params)
    return {"Groups": [group_shape(group) for group in page.items], **page.response_members()}


def update_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    group = group_named(ctx, account_id, str(params["GroupName"]))
    new_path = params.get("NewPath")
    if new_path is not None:
        validate_path(str(new_path), member="newPath")
    new_name = params.get("NewGroupName")
    if new_name is not None:
        holder = ctx.store.get_group(account_id, str(new_name))
        if holder is not None and holder.group_id != group.group_id:
            raise group_exists(str(new_name))
    updated = dataclasses.replace(
        group,
        group_name=group.group_name if new_name is None else str(new_name),
        path=group.path if new_path is None else str(new_path),
    )
    try:
        ctx.store.update_group(updated)
    except Conflict:
        raise group_exists(updated.group_name) from None
    return {}


def delete_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    group = group_named(ctx, caller.principal.account_id, str(params["GroupName"]))
    # DeleteGroup (IAM API reference): "The group must not contain any users or have any attached policies."
    if ctx.store.list_group_members(group.group_id):
        raise delete_conflict("Cannot delete entity, must remove users from group first.")
    if ctx.store.list_inline_policies("group", group.group_id):
        raise delete_conflict("Cannot delete entity, must delete policies first.")
    if ctx.store.list_attached_policies("group", group.group_id):
        raise delete_conflict("Cannot delete entity, must detach all policies first.")
    ctx.store.delete_group(group.group_id)
    return {}


def add_user_to_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    group = group_named(ctx, account_id, str(params["GroupName"]))
    user = user_named(ctx, account_id, str(params["UserName"]))
    memberships = ctx.store.list_groups_for_user(user.user_id)
    already_member = any(g.group_id == group.group_id for g in memberships)
    if not already_member and len(memberships) >= MAX_GROUPS_PER_USER:
        raise AwsError("LimitExceeded", f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}", 409)
    ctx.store.add_user_to_group(group.group_id, user.user_id)
    return {}


def remove_user_from_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    group = group_named(ctx, account_id, str(params["GroupName"]))
    user = user_named(ctx, account_id, str(params["UserName"]))
    if not any(g.group_id == group.group_id for g in ctx.store.list_groups_for_user(user.user_id)):
        raise no_such_entity(f"User {user.user_name} is not in group {group.group_name}.")
    ctx.store.remove_user_from_group(group.group_id, user.user_id)
    return {}


def list_groups_for_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    user = user_named(ctx, caller.principal.account_id, str(params["UserName"]))
    groups = ctx.store.list_groups_for_user(user.user_id)
    page = paginate(groups, lambda group: group.group_name.lower(), f"user-groups/{user.user_id}", params)
    return {"Groups": [group_shape(group) for group in page.items], **page.response_members()}
