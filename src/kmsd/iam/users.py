"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser and DeleteUser.

Behaviour and wording follow the IAM API reference for each action; what
users share with groups and roles (name checks, quota, listing, renaming,
deletion conflicts) is in :mod:`kmsd.iam.entity_kinds`.  A user's
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
from kmsd.iam.entity_kinds import USERS, create, delete, list_page, rename_or_move
from kmsd.iam.iam_tags import check_tag_quota, requested_tags, tag_list
from kmsd.iam.ids import validate_path
from kmsd.iam.lookup import boundary_policy
from kmsd.iam.principal import Caller
from kmsd.store.models import IamUser


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
    check_tag_quota(tags, USERS.title)
    boundary = params.get("PermissionsBoundary")
    if boundary is not None:
        boundary_policy(ctx, account_id, str(boundary))

    def build(user_id: str) -> IamUser:
        return IamUser(
            user_id=user_id,
            account_id=account_id,
            user_name=user_name,
            path=path,
            created_at=ctx.clock.now(),
            permissions_boundary_arn=None if boundary is None else str(boundary),
            tags=tags,
        )

    user = create(ctx, USERS, account_id, user_name, build)
    return {"User": user_shape(user, detailed=True)}


def get_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    principal = caller.principal
    name = params.get("UserName")
    if name is not None:
        return {"User": user_shape(USERS.named(ctx, principal.account_id, str(name)), detailed=True)}
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
    page = list_page(ctx, USERS, caller, params)
    return {"Users": [user_shape(user) for user in page.items], **page.response_members()}


def update_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    user, updated = rename_or_move(ctx, USERS, caller, params)
    if updated.arn != user.arn:
        # Access keys record their owner's ARN, which names the user and its path.
        for key in ctx.store.list_user_access_keys(user.user_id):
            ctx.store.put_access_key(dataclasses.replace(key, principal_arn=updated.arn))
    return {}


def delete_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    delete(ctx, USERS, caller, params)
    return {}
