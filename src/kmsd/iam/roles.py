"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy, DeleteRole.

A role's trust policy (``AssumeRolePolicyDocument``) is a resource-based
policy: it is validated by the policy engine as one (every statement needs a
``Principal``), may not name a ``Resource`` (AWS: "Has prohibited field
Resource"), may not name IAM users or roles that do not exist (AWS: "Invalid
principal in policy"), and is limited to 2,048 characters without white space
("IAM and AWS STS quotas": role trust policy length, ``ACLSizePerRole``).
Refusals carry AWS's ``MalformedPolicyDocument`` reason.  DeleteRole refuses
with ``DeleteConflict`` while the role has inline or attached policies; that,
the name checks, the quota and listing are shared with users and groups
(:mod:`kmsd.iam.entity_kinds`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.boundaries import boundary_shape
from kmsd.iam.context import IamContext
from kmsd.iam.documents import url_encoded
from kmsd.iam.entity_kinds import ROLES, create, delete, list_page
from kmsd.iam.iam_tags import check_tag_quota, requested_tags, tag_list
from kmsd.iam.ids import validate_path
from kmsd.iam.lookup import boundary_policy
from kmsd.iam.principal import Caller
from kmsd.policy import Policy, PolicyKind, PolicySizeError, PolicyValidationError, SizeLimit, parse_policy
from kmsd.store.models import IamRole

MIN_SESSION_DURATION, MAX_SESSION_DURATION = 3600, 43200  # CreateRole MaxSessionDuration: 1 to 12 hours
TRUST_POLICY_SIZE = SizeLimit(
    "role trust policy", 2_048, False, "characters", "Cannot exceed quota for ACLSizePerRole: {limit}"
)


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message, 400)


def _iam_principal_exists(ctx: IamContext, arn: str) -> bool:
    """Whether an IAM user or role ARN names an existing entity; other principals are not checked."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or "*" in arn:
        return True
    account_id, resource = parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind == "user":
        user = ctx.store.get_user(account_id, name)
        return user is not None and user.arn == arn
    if kind == "role":
        role = ctx.store.get_role(account_id, name)
        return role is not None and role.arn == arn
    return True


def validated_trust_policy(ctx: IamContext, document: str) -> Policy:
    """The trust policy compiled, or AWS's ``MalformedPolicyDocument`` / ``LimitExceeded`` refusal."""
    try:
        policy = parse_policy(document, PolicyKind.RESOURCE, max_size=TRUST_POLICY_SIZE)
    except PolicySizeError as error:
        raise AwsError("LimitExceeded", error.message, 409) from None
    except PolicyValidationError as error:
        raise malformed(error.message) from None
    for statement in policy.document.statements:
        if statement.resource is not None:
            raise malformed("Has prohibited field Resource")
        if statement.not_resource is not None:
            raise malformed("Has prohibited field NotResource")
        for principals in (statement.principal, statement.not_principal):
            for kind, values in principals.entries if principals is not None else ():
                for value in values if kind == "AWS" else ():
                    if not _iam_principal_exists(ctx, value):
                        raise malformed(f'Invalid principal in policy: "AWS":"{value}"')
    return policy


def _duration_error(seconds: int, bound: str) -> AwsError:
    return AwsError(
        "ValidationError",
        f"1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed to satisfy constraint: "
        f"Member must have value {bound}",
        400,
    )


def _session_duration(params: Mapping[str, Any]) -> int | None:
    value = params.get("MaxSessionDuration")
    if value is None:
        return None
    seconds = int(value)
    # CreateRole / UpdateRole: "Anyone who assumes the role ... can specify a duration from 1 hour to 12 hours."
    if seconds < MIN_SESSION_DURATION:
        raise _duration_error(seconds, f"greater than or equal to {MIN_SESSION_DURATION}")
    if seconds > MAX_SESSION_DURATION:
        raise _duration_error(seconds, f"less than or equal to {MAX_SESSION_DURATION}")
    return seconds


def role_shape(role: IamRole, *, detailed: bool = False, last_used: bool = False) -> dict[str, Any]:
    """AWS's ``Role``; ListRoles leaves out ``PermissionsBoundary``, ``Tags`` and ``RoleLastUsed``."""
    shape: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.role_name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": url_encoded(role.assume_role_policy),
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.description:
        shape["Description"] = role.description
    if detailed:
        boundary = boundary_shape(role.permissions_boundary_arn) if role.permissions_boundary_arn else None
        if boundary is not None:
            shape["PermissionsBoundary"] = boundary
        if role.tags:
            shape["Tags"] = tag_list(role.tags)
    if last_used:
        # Sessions are not traced back to their role's last use, so AWS's answer for a role
        # that has not been used in the tracking period applies: an empty RoleLastUsed.
        shape["RoleLastUsed"] = {}
    return shape


def create_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    role_name = str(params["RoleName"])
    path = str(params.get("Path") or "/")
    validate_path(path)
    document = str(params["AssumeRolePolicyDocument"])
    validated_trust_policy(ctx, document)
    duration = _session_duration(params)
    tags = requested_tags(params)
    check_tag_quota(tags, ROLES.title)
    boundary = params.get("PermissionsBoundary")
    if boundary is not None:
        boundary_policy(ctx, account_id, str(boundary))

    def build(role_id: str) -> IamRole:
        return IamRole(
            role_id=role_id,
            account_id=account_id,
            role_name=role_name,
            path=path,
            created_at=ctx.clock.now(),
            assume_role_policy=document,
            description=str(params.get("Description") or ""),
            max_session_duration=MIN_SESSION_DURATION if duration is None else duration,
            permissions_boundary_arn=None if boundary is None else str(boundary),
            tags=tags,
        )

    role = create(ctx, ROLES, account_id, role_name, build)
    return {"Role": role_shape(role, detailed=True)}


def get_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    role = ROLES.requested(ctx, caller, params)
    return {"Role": role_shape(role, detailed=True, last_used=True)}


def list_roles(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    page = list_page(ctx, ROLES, caller, params)
    return {"Roles": [role_shape(role) for role in page.items], **page.response_members()}


def update_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    role = ROLES.requested(ctx, caller, params)
    duration = _session_duration(params)
    description = params.get("Description")
    ctx.store.update_role(
        dataclasses.replace(
            role,
            description=role.description if description is None else str(description),
            max_session_duration=role.max_session_duration if duration is None else duration,
        )
    )
    return {}


def update_role_description(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    role = ROLES.requested(ctx, caller, params)
    updated = dataclasses.replace(role, description=str(params["Description"]))
    ctx.store.update_role(updated)
    return {"Role": role_shape(updated, detailed=True)}


def update_assume_role_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    role = ROLES.requested(ctx, caller, params)
    document = str(params["PolicyDocument"])
    validated_trust_policy(ctx, document)
    ctx.store.update_role(dataclasses.replace(role, assume_role_policy=document))
    return {}


def delete_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    delete(ctx, ROLES, caller, params)
    return {}
