"""The condition keys an IAM operation adds to its own authorization, beyond the global ``aws:*`` keys.

AWS's "Actions, resources, and condition keys for AWS Identity and Access
Management" page lists them per action: ``aws:RequestTag/${TagKey}`` and
``aws:TagKeys`` for the operations that take tags (CreateUser, TagUser,
CreateRole, TagRole; UntagUser and UntagRole carry ``aws:TagKeys`` only),
``iam:PermissionsBoundary`` for the operations that set a boundary, and
``iam:PolicyARN`` for attaching and detaching managed policies.  A policy can
therefore say "may create users only with this boundary" or "may attach only
these policies".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller

ConditionKeys = dict[str, str | Sequence[str]]
ConditionKeyBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], ConditionKeys]


def no_keys(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    return {}


def request_tags(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    tags = params.get("Tags") or []
    if not tags:
        return {}
    keys: ConditionKeys = {f"aws:RequestTag/{tag['Key']}": str(tag.get("Value", "")) for tag in tags}
    keys["aws:TagKeys"] = [str(tag["Key"]) for tag in tags]
    return keys


def removed_tag_keys(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    return {"aws:TagKeys": [str(key) for key in params.get("TagKeys") or []]}


def permissions_boundary(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    boundary = params.get("PermissionsBoundary")
    return {} if boundary is None else {"iam:PermissionsBoundary": str(boundary)}


def tags_and_boundary(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    return {**request_tags(ctx, caller, params), **permissions_boundary(ctx, caller, params)}


def policy_arn(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    return {"iam:PolicyARN": str(params["PolicyArn"])}
