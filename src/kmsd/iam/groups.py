"""IAM groups and their members: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
AddUserToGroup, RemoveUserFromGroup and ListGroupsForUser.

Behaviour and wording follow the IAM API reference for each action (what
groups share with users and roles is in :mod:`kmsd.iam.entity_kinds`) and the
"IAM and AWS STS quotas" page (300 groups per account, 10 groups per user).
Membership is by id, so renaming a group or a user keeps it.  DeleteGroup
refuses with ``DeleteConflict`` while the group has members, inline policies
or attached managed policies ("Deleting an IAM group").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import GROUPS, USERS, create, delete, list_page, no_such_entity, rename_or_move
from kmsd.iam.ids import validate_path
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.iam.users import user_shape
from kmsd.store.models import IamGroup

MAX_GROUPS_PER_USER = 10  # "IAM and AWS STS quotas": groups an IAM user can be a member of


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

    def build(group_id: str) -> IamGroup:
        return IamGroup(
            group_id=group_id, account_id=account_id, group_name=group_name, path=path, created_at=ctx.clock.now()
        )

    return {"Group": group_shape(create(ctx, GROUPS, account_id, group_name, build))}


def get_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    group = GROUPS.requested(ctx, caller, params)
    members = ctx.store.list_group_members(group.group_id)
    page = paginate(members, lambda user: user.user_name.lower(), f"group-members/{group.group_id}", params)
    return {
        "Group": group_shape(group),
        "Users": [user_shape(user) for user in page.items],
        **page.response_members(),
    }


def list_groups(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    page = list_page(ctx, GROUPS, caller, params)
    return {"Groups": [group_shape(group) for group in page.items], **page.response_members()}


def update_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    rename_or_move(ctx, GROUPS, caller, params)
    return {}


def delete_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    delete(ctx, GROUPS, caller, params)
    return {}


def add_user_to_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    group = GROUPS.requested(ctx, caller, params)
    user = USERS.requested(ctx, caller, params)
    memberships = ctx.store.list_groups_for_user(user.user_id)
    already_member = any(g.group_id == group.group_id for g in memberships)
    if not already_member and len(memberships) >= MAX_GROUPS_PER_USER:
        raise AwsError("LimitExceeded", f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}", 409)
    ctx.store.add_user_to_group(group.group_id, user.user_id)
    return {}


def remove_user_from_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    group = GROUPS.requested(ctx, caller, params)
    user = USERS.requested(ctx, caller, params)
    if not any(g.group_id == group.group_id for g in ctx.store.list_groups_for_user(user.user_id)):
        raise no_such_entity(f"User {user.user_name} is not in group {group.group_name}.")
    ctx.store.remove_user_from_group(group.group_id, user.user_id)
    return {}


def list_groups_for_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    user = USERS.requested(ctx, caller, params)
    groups = ctx.store.list_groups_for_user(user.user_id)
    page = paginate(groups, lambda group: group.group_name.lower(), f"user-groups/{user.user_id}", params)
    return {"Groups": [group_shape(group) for group in page.items], **page.response_members()}
