"""The condition keys an IAM request carries from its own members, beyond the global ``aws:*`` keys.

AWS's "Actions, resources, and condition keys for AWS Identity and Access
Management" page lists them per action (the table is
:mod:`kmsd.iam.action_keys`): ``aws:RequestTag/${TagKey}`` and
``aws:TagKeys`` for the operations that take tags (CreateUser, TagUser,
CreateRole, TagRole, CreatePolicy; UntagUser and UntagRole carry
``aws:TagKeys`` only) and ``iam:PermissionsBoundary`` for the operations
that set a boundary.  A policy can therefore say "may create users only with
this boundary" or "may tag only with these keys".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller

ConditionKeys = dict[str, str | Sequence[str]]
ConditionKeyBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], ConditionKeys]


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
