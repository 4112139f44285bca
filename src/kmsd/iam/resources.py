"""The resource ARN each IAM operation is authorized against, built from the request and the caller.

AWS's "Actions, resources, and condition keys for AWS Identity and Access
Management" page names, per action, the resource type a policy's ``Resource``
element matches: a user, group, role or policy ARN (with the entity's path),
or, for the list operations, the path prefix of the kind listed
(``arn:aws:iam::ACCOUNT:user/`` for ``iam:ListUsers``, as AWS's denials show).
IAM names are unique whatever their case and are looked up in any case
(:mod:`kmsd.iam.lookup`), so an existing entity is always named by its
stored ARN, never by the spelling in the request: a ``Deny`` on
``user/admin`` must hold for ``UserName=ADMIN`` too, because that is the
entity acted on.  An entity that does not exist is named as the request
spells it, with path ``/``, so the caller still sees an ``AccessDenied``
before learning whether it exists.

:func:`target_user`, :func:`target_role` and :func:`target_policy` are the
stored entities themselves, for the condition keys that describe them
(``aws:ResourceTag/*``, ``iam:PermissionsBoundary``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller
from kmsd.store.models import IamGroup, IamRole, IamUser, ManagedPolicy

ResourceBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], str]
# A second resource some operations are also authorized on (the new name of UpdateUser); None when there is none.
ExtraResourceBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], "str | None"]


def _account(caller: Caller) -> str:
    return caller.principal.account_id


def _path_of(params: Mapping[str, Any]) -> str:
    return str(params.get("Path") or "/")


def _prefix_of(params: Mapping[str, Any]) -> str:
    return str(params.get("PathPrefix") or "/")


def new_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:user{_path_of(params)}{params['UserName']}"


def target_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> IamUser | None:
    """The stored user ``UserName`` names in any case; without one, the calling IAM user (None for others)."""
    name = params.get("UserName")
    if name is not None:
        return ctx.store.get_user(_account(caller), str(name))
    if caller.principal.kind != "user":
        return None
    return ctx.store.get_user_by_id(caller.principal.user_id)


def named_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    """The user named by ``UserName``, or the calling principal itself when it is absent (GetUser, keys)."""
    name = params.get("UserName")
    if name is None:
        return caller.principal.arn
    user = ctx.store.get_user(_account(caller), str(name))
    return user.arn if user is not None else f"arn:aws:iam::{_account(caller)}:user/{name}"


def renamed_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str | None:
    """UpdateUser's new ARN: "the requester must have appropriate permissions on both the source object
    and the target object" (IAM API Reference, UpdateUser).  None when neither name nor path changes."""
    return _renamed(ctx.store.get_user(_account(caller), str(params["UserName"])), "user", params, "NewUserName")


def key_owner_user(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> IamUser | None:
    record = ctx.store.get_access_key(str(params["AccessKeyId"]))
    if record is None or record.account_id != _account(caller) or record.user_id is None:
        return None
    return ctx.store.get_user_by_id(record.user_id)


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
    return group.arn if group is not None else f"arn:aws:iam::{_account(caller)}:group/{name}"


def renamed_group(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str | None:
    """UpdateGroup's new ARN, which the requester also needs permission on (IAM API Reference, UpdateGroup)."""
    return _renamed(ctx.store.get_group(_account(caller), str(params["GroupName"])), "group", params, "NewGroupName")


def group_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:group{_prefix_of(params)}"


def new_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:role{_path_of(params)}{params['RoleName']}"


def target_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> IamRole | None:
    return ctx.store.get_role(_account(caller), str(params["RoleName"]))


def named_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    role = target_role(ctx, caller, params)
    return role.arn if role is not None else f"arn:aws:iam::{_account(caller)}:role/{params['RoleName']}"


def role_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:role{_prefix_of(params)}"


def new_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:policy{_path_of(params)}{params['PolicyName']}"


def target_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ManagedPolicy | None:
    return ctx.store.get_policy(str(params["PolicyArn"]))


def named_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    policy = target_policy(ctx, caller, params)
    return policy.arn if policy is not None else str(params["PolicyArn"])


def policy_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:policy{_prefix_of(params)}"


def _renamed(entity: IamUser | IamGroup | None, kind: str, params: Mapping[str, Any], name_member: str) -> str | None:
    if entity is None or (params.get(name_member) is None and params.get("NewPath") is None):
        return None
    name = entity.user_name if isinstance(entity, IamUser) else entity.group_name
    path = str(params.get("NewPath") or entity.path)
    return f"arn:aws:iam::{entity.account_id}:{kind}{path}{params.get(name_member) or name}"
