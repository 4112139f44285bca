"""The resource ARN each IAM operation is authorized against, built from the request and the caller.

AWS's "Actions, resources, and condition keys for AWS Identity and Access
Management" page names, per action, the resource type a policy's ``Resource``
element matches: a user, group, role or policy ARN (with the entity's path),
or, for the list operations, the path prefix of the kind listed
(``arn:aws:iam::ACCOUNT:user/`` for ``iam:ListUsers``, as AWS's denials show).
IAM names are unique whatever their case and are looked up in any case
(the table of entity kinds, :mod:`kmsd.iam.entity_kinds`, which also builds
these ARNs alike for users, groups and roles), so an existing entity is always named by its
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
from kmsd.iam.entity_kinds import GROUPS, ROLES, USERS, EntityKind
from kmsd.iam.principal import Caller
from kmsd.store.models import IamRole, IamUser, ManagedPolicy

ResourceBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], str]
# A second resource some operations are also authorized on (the new name of UpdateUser); None when there is none.
ExtraResourceBuilder = Callable[[IamContext, Caller, Mapping[str, Any]], "str | None"]


def _account(caller: Caller) -> str:
    return caller.principal.account_id


def _path_of(params: Mapping[str, Any]) -> str:
    return str(params.get("Path") or "/")


def _prefix_of(params: Mapping[str, Any]) -> str:
    return str(params.get("PathPrefix") or "/")


def _new(kind: EntityKind[Any]) -> ResourceBuilder:
    """CreateUser / CreateGroup / CreateRole: the ARN the new entity will have."""

    def new(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
        return f"arn:aws:iam::{_account(caller)}:{kind.owner_kind}{_path_of(params)}{params[kind.name_member]}"

    return new


def _named(kind: EntityKind[Any]) -> ResourceBuilder:
    """The stored ARN of the entity the request names, or the request's spelling with path ``/``."""

    def named(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
        name = str(params[kind.name_member])
        entity = kind.get(ctx.store, _account(caller), name)
        return str(entity.arn) if entity is not None else f"arn:aws:iam::{_account(caller)}:{kind.owner_kind}/{name}"

    return named


def _renamed(kind: EntityKind[Any]) -> ExtraResourceBuilder:
    """UpdateUser's / UpdateGroup's new ARN: "the requester must have appropriate permissions on both the
    source object and the target object" (IAM API Reference, UpdateUser).  None when neither name nor path
    changes."""

    def renamed(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str | None:
        entity = kind.get(ctx.store, _account(caller), str(params[kind.name_member]))
        new_name = params.get(kind.new_name_member)
        if entity is None or (new_name is None and params.get("NewPath") is None):
            return None
        path = str(params.get("NewPath") or entity.path)
        return f"arn:aws:iam::{entity.account_id}:{kind.owner_kind}{path}{new_name or kind.name_of(entity)}"

    return renamed


def _path_prefix(kind: EntityKind[Any]) -> ResourceBuilder:
    """The list operations: the path prefix of the kind listed (``arn:aws:iam::ACCOUNT:user/``)."""

    def path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
        return f"arn:aws:iam::{_account(caller)}:{kind.owner_kind}{_prefix_of(params)}"

    return path_prefix


new_user, renamed_user, user_path_prefix = _new(USERS), _renamed(USERS), _path_prefix(USERS)
new_group, named_group, renamed_group = _new(GROUPS), _named(GROUPS), _renamed(GROUPS)
group_path_prefix = _path_prefix(GROUPS)
new_role, named_role, role_path_prefix = _new(ROLES), _named(ROLES), _path_prefix(ROLES)
_named_user = _named(USERS)


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
    if params.get("UserName") is None:
        return caller.principal.arn
    return _named_user(ctx, caller, params)


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


def target_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> IamRole | None:
    return ROLES.get(ctx.store, _account(caller), str(params["RoleName"]))


def new_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:policy{_path_of(params)}{params['PolicyName']}"


def target_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ManagedPolicy | None:
    return ctx.store.get_policy(str(params["PolicyArn"]))


def named_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    policy = target_policy(ctx, caller, params)
    return policy.arn if policy is not None else str(params["PolicyArn"])


def policy_path_prefix(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    return f"arn:aws:iam::{_account(caller)}:policy{_prefix_of(params)}"
