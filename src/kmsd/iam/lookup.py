"""Finding the IAM entity a request names, with AWS's ``NoSuchEntity`` answer when there is none.

Every IAM handler that takes a ``UserName``, ``GroupName`` or ``RoleName``
starts here, so the "cannot be found" wording (IAM API reference,
``NoSuchEntity``, HTTP 404) is written once.  Names are looked up in the
caller's account: IAM entities are never reachable across accounts by name.
"""

from __future__ import annotations

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller
from kmsd.store.models import IamGroup, IamRole, IamUser, ManagedPolicy


def no_such_entity(message: str) -> AwsError:
    return AwsError("NoSuchEntity", message, 404)


def user_named(ctx: IamContext, account_id: str, user_name: str) -> IamUser:
    user = ctx.store.get_user(account_id, user_name)
    if user is None:
        raise no_such_entity(f"The user with name {user_name} cannot be found.")
    return user


def group_named(ctx: IamContext, account_id: str, group_name: str) -> IamGroup:
    group = ctx.store.get_group(account_id, group_name)
    if group is None:
        raise no_such_entity(f"The group with name {group_name} cannot be found.")
    return group


def role_named(ctx: IamContext, account_id: str, role_name: str) -> IamRole:
    role = ctx.store.get_role(account_id, role_name)
    if role is None:
        raise no_such_entity(f"The role with name {role_name} cannot be found.")
    return role


def boundary_policy(ctx: IamContext, account_id: str, policy_arn: str) -> ManagedPolicy:
    """The managed policy a ``PermissionsBoundary`` names: the account's own or an AWS managed one.

    CreateUser / CreateRole with a boundary that does not exist (or belongs to another account)
    fail as AWS fails them: ``NoSuchEntity`` "Scope ARN: ... does not exist or is not attachable."
    """
    policy = ctx.store.get_policy(policy_arn)
    if policy is None or policy.account_id not in (account_id, "aws"):
        raise no_such_entity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")
    return policy


def calling_user(ctx: IamContext, caller: Caller) -> IamUser | None:
    """The IAM user making the call, or None for root and role sessions."""
    principal = caller.principal
    if principal.kind != "user":
        return None
    return ctx.store.get_user_by_id(principal.user_id)


def user_or_caller(ctx: IamContext, caller: Caller, user_name: object) -> IamUser | None:
    """The user named by an optional ``UserName``; without one, the calling user (None when root calls).

    AWS (GetUser, CreateAccessKey, ListAccessKeys, ...): "If you do not specify a user name, IAM
    determines the user name implicitly based on the Amazon Web Services access key ID signing the
    request."  A role session has no user to default to, so it must name one.
    """
    account_id = caller.principal.account_id
    if user_name is not None:
        return user_named(ctx, account_id, str(user_name))
    if caller.principal.kind == "root":
        return None
    user = calling_user(ctx, caller)
    if user is None:
        raise AwsError("ValidationError", "Must specify userName when calling with non-User credentials", 400)
    return user
