"""The resource ARN each IAM operation is authorized against, built from the request and the caller.

AWS's "Actions, resources, and condition keys for AWS Identity and Access
Management" page names, per action, the resource type a policy's ``Resource``
element matches: a user, group, role or policy ARN (with the entity's path),
or, for the list operations, the path prefix of the kind listed
(``arn:aws:iam::ACCOUNT:user/`` for ``iam:ListUsers``, as AWS's denials show).
The builders read the store only to learn an existing entity's path; an
entity that does not exist is named with path ``/``, so the caller still sees
an ``AccessDenied`` before learning whether it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller

ResourceBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], str]


def _account(caller: Caller) -> str:
    return caller.principal.account_id


def _path_of(params: Mapping[str, Any]) -> str:
    return str(params.get("Path") or "/")


def _prefix_of(params: Mapping[str, Any]) -> str:
    return str(params.get("PathPrefix") or "/")


def new_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:user{_path_of(params)}{params['UserName']}"


def named_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    """The user named by ``UserName``, or the calling principal itself when it is absent (GetUser, keys)."""
    name = params.get("UserName")
    if name is None:
        return caller.principal.arn
    user = ctx.store.get_user(_account(caller), str(name))
    path = user.path if user is not None else "/"
    return f"arn:aws:iam::{_account(caller)}:user{path}{name}"


def key_owner(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    """GetAccessKeyLastUsed names no user: the resource is the user that owns the key."""
    record = ctx.store.get_access_key(str(params["AccessKeyId"]))
    if record is None or record.account_id != _account(caller):
        return caller.principal.arn
    return record.principal_arn


def user_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:user{_prefix_of(params)}"


def new_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:group{_path_of(params)}{params['GroupName']}"


def named_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    name = str(params["GroupName"])
    group = ctx.store.get_group(_account(caller), name)
    path = group.path if group is not None else "/"
    return f"arn:aws:iam::{_account(caller)}:group{path}{name}"


def group_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:group{_prefix_of(params)}"


def new_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:role{_path_of(params)}{params['RoleName']}"


def named_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    name = str(params["RoleName"])
    role = ctx.store.get_role(_account(caller), name)
    path = role.path if role is not None else "/"
    return f"arn:aws:iam::{_account(caller)}:role{path}{name}"


def role_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:role{_prefix_of(params)}"


def new_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:policy{_path_of(params)}{params['PolicyName']}"


def named_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return str(params["PolicyArn"])


def policy_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:policy{_prefix_of(params)}"
