"""Finding what an IAM request names beyond a plain entity name: a permissions boundary, or the calling user.

A ``UserName``, ``GroupName`` or ``RoleName`` is looked up through the
table of entity kinds (:mod:`kmsd.iam.entity_kinds`), which words AWS's
``NoSuchEntity`` answer once for all three.  Names are looked up in the
caller's account: IAM entities are never reachable across accounts by name.
"""

from __future__ import annotations

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import USERS, no_such_entity
from kmsd.iam.principal import Caller
from kmsd.store.models import IamUser, ManagedPolicy


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
        return USERS.named(ctx, account_id, str(user_name))
    if caller.principal.kind == "root":
        return None
    user = calling_user(ctx, caller)
    if user is None:
        raise AwsError("ValidationError", "Must specify userName when calling with non-User credentials", 400)
    return user
