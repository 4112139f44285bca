"""Permissions boundaries: Put/Delete{User,Role}PermissionsBoundary and the ``PermissionsBoundary`` member.

A permissions boundary is a managed policy (the account's own or an AWS
managed one) set on a user or role to cap what its identity policies can
grant; the record keeps its ARN in ``permissions_boundary_arn``, and GetUser /
GetRole show it through :func:`boundary_shape`.  Setting one replaces any
previous boundary; the evaluation itself is the authorizer's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kmsd.errors import AwsError
from kmsd.iam.aws_managed import is_service_role_policy
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import ROLES, USERS, EntityKind
from kmsd.iam.lookup import boundary_policy
from kmsd.iam.managed_policies import checked_policy_arn
from kmsd.iam.principal import Caller
from kmsd.store.models import IamRole, IamUser, ManagedPolicy

# The entity kinds that can have a permissions boundary (IAM groups cannot).
Bounded = TypeVar("Bounded", IamUser, IamRole)
Handler = Callable[[IamContext, Caller, Mapping[str, Any]], dict[str, Any]]

# AttachedPermissionsBoundary.PermissionsBoundaryType: the one value of botocore's
# PermissionsBoundaryAttachmentType enum.
BOUNDARY_TYPE = "PermissionsBoundaryPolicy"


def boundary_shape(arn: str | None) -> dict[str, str] | None:
    """The ``PermissionsBoundary`` member of GetUser / GetRole for a boundary ARN; None when there is none."""
    if not arn:
        return None
    return {"PermissionsBoundaryType": BOUNDARY_TYPE, "PermissionsBoundaryArn": arn}


def _boundary(ctx: IamContext, caller: Caller, params: Mapping[str, Any], entity: str) -> ManagedPolicy:
    arn = checked_policy_arn(str(params["PermissionsBoundary"]))
    policy = boundary_policy(ctx, caller.principal.account_id, arn)
    if is_service_role_policy(policy):
        # Put*PermissionsBoundary, PolicyNotAttachable: "AWS service role policies can only be attached
        # to the service-linked role for that service."
        target = "Customer Role" if entity == "Role" else entity
        raise AwsError("PolicyNotAttachable", f"Cannot attach a Service Role Policy to a {target}.", 400)
    return policy


def _putter(kind: EntityKind[Bounded]) -> Handler:
    def put(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = kind.requested(ctx, caller, params)
        policy = _boundary(ctx, caller, params, kind.title)
        kind.update(ctx.store, dataclasses.replace(entity, permissions_boundary_arn=policy.arn))
        return {}

    return put


def _deleter(kind: EntityKind[Bounded]) -> Handler:
    def delete(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = kind.requested(ctx, caller, params)
        kind.update(ctx.store, dataclasses.replace(entity, permissions_boundary_arn=None))
        return {}

    return delete


put_user_permissions_boundary, delete_user_permissions_boundary = _putter(USERS), _deleter(USERS)
put_role_permissions_boundary, delete_role_permissions_boundary = _putter(ROLES), _deleter(ROLES)
