"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser and DeleteUser.

Behaviour and wording follow the IAM API reference for each action.  A user's
ARN includes its path, and its access keys record that ARN, so renaming or
moving a user (UpdateUser) rewrites the ARN on its keys in the same
transaction.  DeleteUser refuses, with ``DeleteConflict``, while the user
still has access keys, inline policies, attached managed policies or group
memberships, as AWS does ("Deleting an IAM user": those must be removed
first); a permissions boundary does not block deletion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.boundaries import boundary_shape
from kmsd.iam.context import IamContext
from kmsd.iam.iam_tags import check_tag_quota, requested_tags, tag_list
from kmsd.iam.ids import USER_ID_PREFIX, new_unique_id, validate_path
from kmsd.iam.lookup import boundary_policy, user_named
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.store.base import Conflict
from kmsd.store.models import IamUser

MAX_USERS_PER_ACCOUNT = 5000  # "IAM and AWS STS quotas": users in an AWS account


def user_exists(user_name: str) -> AwsError:
    return AwsError("EntityAlreadyExists", f"User with name {user_name} already exists.", 409)


def delete_conflict(message: str) -> AwsError:
    return AwsError("DeleteConflict", message, 409)


def user_shape(user: IamUser, *, detailed: bool = False) -> dict[str, Any]:
    """AWS's ``User`` structure; the list operations leave out ``PermissionsBoundary`` and ``Tags``."""
    shape: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.user_name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.created_at,
    }
    if detailed:
        boundary = boundary_shape(user.permissions_boundary_arn) if user.permissions_boundary_arn else None
        if boundary is not None:
            shape["PermissionsBoundary"] = boundary
        if user.tags:
            shape["Tags"] = tag_list(user.tags)
    return shape


def create_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    user_name = str(params["UserName"])
    path = str(params.get("Path") or "/")
    validate_path(path)
    tags = requested_tags(params)
    check_tag_quota(tags, "User")
    boundary = params.get("PermissionsBoundary")
    if boundary is not None:
        boundary_policy(ctx, account_id, str(boundary))
    if ctx.store.get_user(account_id, user_name) is not None:
        raise user_exists(user_name)
    if len(ctx.store.list_users(account_id)) >= MAX_USERS_PER_ACCOUNT:
        raise AwsError("LimitExceeded", f"Cannot exceed quota for UsersPerAccount: {MAX_USERS_PER_ACCOUNT}", 409)
    user = IamUser(
        user_id=new_unique_id(ctx.rng, USER_ID_PREFIX),
        account_id=account_id,
        user_name=user_name,
        path=path,
        created_at=ctx.clock.now(),
        permissions_boundary_arn=None if boundary is None else str(boundary),
        tags=tags,
    )
    try:
        ctx.store.insert_user(user)
    except Conflict:
        raise user_exists(user_name) from None
    return {"User": user_shape(user, detailed=True)}


def get_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    principal = caller.principal
    name = params.get("UserName")
    if name is not None:
        return {"User": user_shape(user_named(ctx, principal.account_id, str(name)), detailed=True)}
    if principal.kind == "root":
        # GetUser without a name, signed by the root user: AWS answers with the account's root
        # "user", which has no UserName or Path — its UserId is the account id.
        account = ctx.store.get_account(principal.account_id)
        root: dict[str, Any] = {"UserId": principal.account_id, "Arn": principal.arn}
        if account is not None:
            root["CreateDate"] = account.created_at
        return {"User": root}
    if principal.kind != "user":
        raise AwsError("ValidationError", "Must specify userName when calling with non-User credentials", 400)
    user = ctx.store.get_user_by_id(principal.user_id)
    if user is None:
        raise AwsError("NoSuchEntity", f"The user with name {principal.name} cannot be found.", 404)
    return {"User": user_shape(user, detailed=True)}


def list_users(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    prefix = str(params.get("PathPrefix") or "/")
    users = ctx.store.list_users(caller.principal.account_id, prefix)
    page = paginate(users, lambda user: user.user_name.lower(), "users", params)
    return {"Users": [user_shape(user) for user in page.items], **page.response_members()}


def update_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    user = user_named(ctx, account_id, str(params["UserName"]))
    new_path = params.get("NewPath")
    if new_path is not None:
        validate_path(str(new_path), member="newPath")
    new_name = params.get("NewUserName")
    if new_name is not None:
        holder = ctx.store.get_user(account_id, str(new_name))
        if holder is not None and holder.user_id != user.user_id:
            raise user_exists(str(new_name))
    updated = dataclasses.replace(
        user,
        user_name=user.user_name if new_name is None else str(new_name),
        path=user.path if new_path is None else str(new_path),
    )
    try:
        ctx.store.update_user(updated)
    except Conflict:
        raise user_exists(updated.user_name) from None
    if updated.arn != user.arn:
        # Access keys record their owner's ARN, which names the user and its path.
        for key in ctx.store.list_user_access_keys(user.user_id):
            ctx.store.put_access_key(dataclasses.replace(key, principal_arn=updated.arn))
    return {}


def delete_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    user = user_named(ctx, caller.principal.account_id, str(params["UserName"]))
    # DeleteUser (IAM API reference): "you must delete the items attached to the user manually".
    if ctx.store.list_user_access_keys(user.user_id):
        raise delete_conflict("Cannot delete entity, must delete access keys first.")
    if ctx.store.list_inline_policies("user", user.user_id):
        raise delete_conflict("Cannot delete entity, must delete policies first.")
    if ctx.store.list_attached_policies("user", user.user_id):
        raise delete_conflict("Cannot delete entity, must detach all policies first.")
    if ctx.store.list_groups_for_user(user.user_id):
        raise delete_conflict("Cannot delete entity, must remove users from group first.")
    ctx.store.delete_user(user.user_id)
    return {}
