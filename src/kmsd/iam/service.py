"""The IAM service: one dispatch table from operation name to handler, IAM action and resource.

The API layer decodes a query-protocol request into ``(operation, params,
caller)`` and calls :meth:`IamService.call`.  Each entry of
:data:`OPERATIONS` says which handler does the work, whether it writes, which
IAM action it needs and how to build the resource ARN that action is
authorized against (AWS's "Actions, resources, and condition keys for AWS
Identity and Access Management" page); the condition keys of each action are
the table in :mod:`kmsd.iam.action_keys`.  Every call is authorized first by
:func:`kmsd.iam.authorization.authorize_call`; writing operations then run
inside one store transaction, so one that fails part-way leaves nothing
written, and on success the service drops the store's cached identity-policy
sets and tells its write listeners (the credential resolver) that IAM data
changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kmsd.clock import Clock
from kmsd.crypto import RandomSource, RootKey
from kmsd.errors import AwsError
from kmsd.iam import (
    access_keys,
    boundaries,
    groups,
    iam_tags,
    inline_policies,
    managed_policies,
    resources,
    roles,
    simulation,
    users,
)
from kmsd.iam.action_keys import condition_keys_for
from kmsd.iam.authorization import authorize_call
from kmsd.iam.aws_managed import ensure_aws_managed_policies
from kmsd.iam.context import IamContext
from kmsd.iam.identity_policies import invalidate_identity_policies
from kmsd.iam.key_simulation import KeySimulator
from kmsd.iam.principal import Caller
from kmsd.iam.resources import ExtraResourceBuilder, ResourceBuilder
from kmsd.policy.service_rules import protected_role, unmodifiable_message
from kmsd.store.base import Store

Handler = Callable[[IamContext, Caller, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    handler: Handler
    writes: bool
    action: str  # the IAM action authorized, e.g. "iam:CreateUser"
    resource: ResourceBuilder
    also: ExtraResourceBuilder | None = None  # a second resource the action needs (a rename's new name)


def _read(handler: Handler, action: str, resource: ResourceBuilder) -> Operation:
    return Operation(handler, False, action, resource)


def _write(
    handler: Handler, action: str, resource: ResourceBuilder, also: ExtraResourceBuilder | None = None
) -> Operation:
    return Operation(handler, True, action, resource, also)


OPERATIONS: dict[str, Operation] = {
    # users
    "CreateUser": _write(users.create_user, "iam:CreateUser", resources.new_user),
    "GetUser": _read(users.get_user, "iam:GetUser", resources.named_user),
    "ListUsers": _read(users.list_users, "iam:ListUsers", resources.user_path_prefix),
    "UpdateUser": _write(users.update_user, "iam:UpdateUser", resources.named_user, resources.renamed_user),
    "DeleteUser": _write(users.delete_user, "iam:DeleteUser", resources.named_user),
    "TagUser": _write(iam_tags.tag_user, "iam:TagUser", resources.named_user),
    "UntagUser": _write(iam_tags.untag_user, "iam:UntagUser", resources.named_user),
    "ListUserTags": _read(iam_tags.list_user_tags, "iam:ListUserTags", resources.named_user),
    # groups
    "CreateGroup": _write(groups.create_group, "iam:CreateGroup", resources.new_group),
    "GetGroup": _read(groups.get_group, "iam:GetGroup", resources.named_group),
    "ListGroups": _read(groups.list_groups, "iam:ListGroups", resources.group_path_prefix),
    "UpdateGroup": _write(groups.update_group, "iam:UpdateGroup", resources.named_group, resources.renamed_group),
    "DeleteGroup": _write(groups.delete_group, "iam:DeleteGroup", resources.named_group),
    "AddUserToGroup": _write(groups.add_user_to_group, "iam:AddUserToGroup", resources.named_group),
    "RemoveUserFromGroup": _write(groups.remove_user_from_group, "iam:RemoveUserFromGroup", resources.named_group),
    "ListGroupsForUser": _read(groups.list_groups_for_user, "iam:ListGroupsForUser", resources.named_user),
    # roles
    "CreateRole": _write(roles.create_role, "iam:CreateRole", resources.new_role),
    "GetRole": _read(roles.get_role, "iam:GetRole", resources.named_role),
    "ListRoles": _read(roles.list_roles, "iam:ListRoles", resources.role_path_prefix),
    "UpdateRole": _write(roles.update_role, "iam:UpdateRole", resources.named_role),
    "UpdateRoleDescription": _write(roles.update_role_description, "iam:UpdateRoleDescription", resources.named_role),
    "UpdateAssumeRolePolicy": _write(
        roles.update_assume_role_policy, "iam:UpdateAssumeRolePolicy", resources.named_role
    ),
    "DeleteRole": _write(roles.delete_role, "iam:DeleteRole", resources.named_role),
    "TagRole": _write(iam_tags.tag_role, "iam:TagRole", resources.named_role),
    "UntagRole": _write(iam_tags.untag_role, "iam:UntagRole", resources.named_role),
    "ListRoleTags": _read(iam_tags.list_role_tags, "iam:ListRoleTags", resources.named_role),
    # access keys
    "CreateAccessKey": _write(access_keys.create_access_key, "iam:CreateAccessKey", resources.named_user),
    "ListAccessKeys": _read(access_keys.list_access_keys, "iam:ListAccessKeys", resources.named_user),
    "UpdateAccessKey": _write(access_keys.update_access_key, "iam:UpdateAccessKey", resources.named_user),
    "DeleteAccessKey": _write(access_keys.delete_access_key, "iam:DeleteAccessKey", resources.named_user),
    "GetAccessKeyLastUsed": _read(
        access_keys.get_access_key_last_used, "iam:GetAccessKeyLastUsed", resources.key_owner
    ),
    # managed policies and their versions
    "CreatePolicy": _write(managed_policies.create_policy, "iam:CreatePolicy", resources.new_policy),
    "GetPolicy": _read(managed_policies.get_policy, "iam:GetPolicy", resources.named_policy),
    "ListPolicies": _read(managed_policies.list_policies, "iam:ListPolicies", resources.policy_path_prefix),
    "DeletePolicy": _write(managed_policies.delete_policy, "iam:DeletePolicy", resources.named_policy),
    "CreatePolicyVersion": _write(
        managed_policies.create_policy_version, "iam:CreatePolicyVersion", resources.named_policy
    ),
    "GetPolicyVersion": _read(managed_policies.get_policy_version, "iam:GetPolicyVersion", resources.named_policy),
    "ListPolicyVersions": _read(
        managed_policies.list_policy_versions, "iam:ListPolicyVersions", resources.named_policy
    ),
    "DeletePolicyVersion": _write(
        managed_policies.delete_policy_version, "iam:DeletePolicyVersion", resources.named_policy
    ),
    "SetDefaultPolicyVersion": _write(
        managed_policies.set_default_policy_version, "iam:SetDefaultPolicyVersion", resources.named_policy
    ),
    "ListEntitiesForPolicy": _read(
        managed_policies.list_entities_for_policy, "iam:ListEntitiesForPolicy", resources.named_policy
    ),
    # attachments: authorized on the entity the policy is attached to
    "AttachUserPolicy": _write(managed_policies.attach_user_policy, "iam:AttachUserPolicy", resources.named_user),
    "DetachUserPolicy": _write(managed_policies.detach_user_policy, "iam:DetachUserPolicy", resources.named_user),
    "AttachGroupPolicy": _write(managed_policies.attach_group_policy, "iam:AttachGroupPolicy", resources.named_group),
    "DetachGroupPolicy": _write(managed_policies.detach_group_policy, "iam:DetachGroupPolicy", resources.named_group),
    "AttachRolePolicy": _write(managed_policies.attach_role_policy, "iam:AttachRolePolicy", resources.named_role),
    "DetachRolePolicy": _write(managed_policies.detach_role_policy, "iam:DetachRolePolicy", resources.named_role),
    "ListAttachedUserPolicies": _read(
        managed_policies.list_attached_user_policies, "iam:ListAttachedUserPolicies", resources.named_user
    ),
    "ListAttachedGroupPolicies": _read(
        managed_policies.list_attached_group_policies, "iam:ListAttachedGroupPolicies", resources.named_group
    ),
    "ListAttachedRolePolicies": _read(
        managed_policies.list_attached_role_policies, "iam:ListAttachedRolePolicies", resources.named_role
    ),
    # inline policies
    "PutUserPolicy": _write(inline_policies.put_user_policy, "iam:PutUserPolicy", resources.named_user),
    "GetUserPolicy": _read(inline_policies.get_user_policy, "iam:GetUserPolicy", resources.named_user),
    "DeleteUserPolicy": _write(inline_policies.delete_user_policy, "iam:DeleteUserPolicy", resources.named_user),
    "ListUserPolicies": _read(inline_policies.list_user_policies, "iam:ListUserPolicies", resources.named_user),
    "PutGroupPolicy": _write(inline_policies.put_group_policy, "iam:PutGroupPolicy", resources.named_group),
    "GetGroupPolicy": _read(inline_policies.get_group_policy, "iam:GetGroupPolicy", resources.named_group),
    "DeleteGroupPolicy": _write(inline_policies.delete_group_policy, "iam:DeleteGroupPolicy", resources.named_group),
    "ListGroupPolicies": _read(inline_policies.list_group_policies, "iam:ListGroupPolicies", resources.named_group),
    "PutRolePolicy": _write(inline_policies.put_role_policy, "iam:PutRolePolicy", resources.named_role),
    "GetRolePolicy": _read(inline_policies.get_role_policy, "iam:GetRolePolicy", resources.named_role),
    "DeleteRolePolicy": _write(inline_policies.delete_role_policy, "iam:DeleteRolePolicy", resources.named_role),
    "ListRolePolicies": _read(inline_policies.list_role_policies, "iam:ListRolePolicies", resources.named_role),
    # permissions boundaries
    "PutUserPermissionsBoundary": _write(
        boundaries.put_user_permissions_boundary,
        "iam:PutUserPermissionsBoundary",
        resources.named_user,
    ),
    "DeleteUserPermissionsBoundary": _write(
        boundaries.delete_user_permissions_boundary, "iam:DeleteUserPermissionsBoundary", resources.named_user
    ),
    "PutRolePermissionsBoundary": _write(
        boundaries.put_role_permissions_boundary,
        "iam:PutRolePermissionsBoundary",
        resources.named_role,
    ),
    "DeleteRolePermissionsBoundary": _write(
        boundaries.delete_role_permissions_boundary, "iam:DeleteRolePermissionsBoundary", resources.named_role
    ),
    # the policy simulator
    "SimulatePrincipalPolicy": _read(
        simulation.simulate_principal_policy, "iam:SimulatePrincipalPolicy", simulation.policy_source
    ),
    "SimulateCustomPolicy": _read(
        simulation.simulate_custom_policy, "iam:SimulateCustomPolicy", simulation.any_resource
    ),
}

WriteListener = Callable[[], None]


class IamService:
    operations: frozenset[str] = frozenset(OPERATIONS)

    def __init__(
        self,
        store: Store,
        root_key: RootKey,
        clock: Clock,
        rng: RandomSource,
        key_simulator: KeySimulator | None = None,
    ) -> None:
        self.context = IamContext(store=store, root_key=root_key, clock=clock, rng=rng, key_simulator=key_simulator)
        self._write_listeners: list[WriteListener] = []
        # AWS managed policies exist in every account before anyone asks for them
        # (a boundary or an attachment may name one on the very first call).
        ensure_aws_managed_policies(self.context)

    @staticmethod
    def writes(operation: str) -> bool:
        """Whether ``operation`` changes IAM data."""
        entry = OPERATIONS.get(operation)
        return entry is not None and entry.writes

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call ``listener`` after every IAM write that commits (caches of credentials and policies drop then)."""
        self._write_listeners.append(listener)

    def call(self, operation: str, params: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        """Authorize, then run one IAM operation; every refusal is an ``AwsError`` with AWS's code and message."""
        entry = OPERATIONS.get(operation)
        if entry is None:
            raise AwsError("InvalidAction", f"Could not find operation {operation} for version 2010-05-08", 400)
        keys = condition_keys_for(entry.action, self.context, caller, params)
        resource = entry.resource(self.context, caller, params)
        authorize_call(self.context, caller, entry.action, resource, extra_keys=keys)
        protected = protected_role(entry.action, resource)
        if protected is not None:
            # Roles under /aws-service-role/ and /aws-reserved/ are AWS's to change (kmsd.policy.service_rules).
            raise AwsError("UnmodifiableEntity", unmodifiable_message(protected), 400)
        also = entry.also(self.context, caller, params) if entry.also is not None else None
        if also is not None:
            authorize_call(self.context, caller, entry.action, also, extra_keys=keys)
        if not entry.writes:
            return entry.handler(self.context, caller, params)
        with self.context.store.transaction():
            result = entry.handler(self.context, caller, params)
        # The next request must see this write: a detached policy or an inactive key stops working at once.
        invalidate_identity_policies(self.context.store)
        for listener in self._write_listeners:
            listener()
        return result
