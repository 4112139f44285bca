"""The condition keys each IAM action carries, as a table: one row per action, naming families of keys.

Service Authorization Reference, "Actions, resources, and condition keys for
AWS Identity and Access Management (IAM)": an action carries the keys of its
own row and the keys of the resource type it acts on.  The user, role and
policy resource types carry the resource's tags (``aws:ResourceTag/${TagKey}``
and ``iam:ResourceTag/${TagKey}``); groups have no tags.  The actions' own keys
are ``aws:RequestTag/${TagKey}`` and ``aws:TagKeys`` where tags are passed
(Create*, Tag*; Untag* carries ``aws:TagKeys``), ``iam:PolicyARN`` for
attaching and detaching managed policies, and ``iam:PermissionsBoundary``
for the actions that set a boundary (the requested one) or that change the
permissions of a user or role that has one (its current one): Attach, Detach,
Put and Delete of user and role policies, and Delete*PermissionsBoundary.
``iam:PassedToService`` belongs to ``iam:PassRole``, which no kmsd operation
performs.  A family whose fact is absent (an untagged user, no boundary)
adds no key, so ``...IfExists`` and ``Null`` conditions see what AWS shows.

The entities are the stored ones, found whatever the case of the name in the
request (:mod:`kmsd.iam.resources`): their tags are what a ``Deny`` on
``aws:ResourceTag/protected`` sees, however the caller spells the name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from kmsd.iam import condition_keys, resources
from kmsd.iam.condition_keys import ConditionKeyBuilder, ConditionKeys
from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller
from kmsd.store.models import IamRole, IamUser, ManagedPolicy


class KeyFamily(NamedTuple):
    name: str
    build: ConditionKeyBuilder


def _tags_of(entity: IamUser | IamRole | ManagedPolicy | None) -> ConditionKeys:
    keys: ConditionKeys = {}
    for tag_key, tag_value in (entity.tags if entity is not None else {}).items():
        keys[f"aws:ResourceTag/{tag_key}"] = tag_value
        keys[f"iam:ResourceTag/{tag_key}"] = tag_value
    return keys


def _boundary_of(entity: IamUser | IamRole | None) -> ConditionKeys:
    boundary = entity.permissions_boundary_arn if entity is not None else None
    return {} if not boundary else {"iam:PermissionsBoundary": boundary}


def _policy_arn(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    # The stored ARN of the policy when it exists: the value a condition compares must be the policy attached.
    return {"iam:PolicyARN": resources.named_policy(ctx, caller, params)}


USER_TAGS = KeyFamily("user tags", lambda ctx, caller, p: _tags_of(resources.target_user(ctx, caller, p)))
KEY_OWNER_TAGS = KeyFamily("key owner tags", lambda ctx, caller, p: _tags_of(resources.key_owner_user(ctx, caller, p)))
ROLE_TAGS = KeyFamily("role tags", lambda ctx, caller, p: _tags_of(resources.target_role(ctx, caller, p)))
POLICY_TAGS = KeyFamily("policy tags", lambda ctx, caller, p: _tags_of(resources.target_policy(ctx, caller, p)))
USER_BOUNDARY = KeyFamily("user boundary", lambda ctx, caller, p: _boundary_of(resources.target_user(ctx, caller, p)))
ROLE_BOUNDARY = KeyFamily("role boundary", lambda ctx, caller, p: _boundary_of(resources.target_role(ctx, caller, p)))
REQUESTED_BOUNDARY = KeyFamily("requested boundary", condition_keys.permissions_boundary)
REQUEST_TAGS = KeyFamily("request tags", condition_keys.request_tags)
REMOVED_TAG_KEYS = KeyFamily("removed tag keys", condition_keys.removed_tag_keys)
POLICY_ARN = KeyFamily("policy ARN", _policy_arn)

ACTION_KEYS: dict[str, tuple[KeyFamily, ...]] = {
    # users
    "iam:CreateUser": (REQUEST_TAGS, REQUESTED_BOUNDARY),
    "iam:GetUser": (USER_TAGS,),
    "iam:ListUsers": (),
    "iam:UpdateUser": (USER_TAGS,),
    "iam:DeleteUser": (USER_TAGS,),
    "iam:TagUser": (USER_TAGS, REQUEST_TAGS),
    "iam:UntagUser": (USER_TAGS, REMOVED_TAG_KEYS),
    "iam:ListUserTags": (USER_TAGS,),
    # groups (not taggable)
    "iam:CreateGroup": (),
    "iam:GetGroup": (),
    "iam:ListGroups": (),
    "iam:UpdateGroup": (),
    "iam:DeleteGroup": (),
    "iam:AddUserToGroup": (),
    "iam:RemoveUserFromGroup": (),
    "iam:ListGroupsForUser": (USER_TAGS,),
    # roles
    "iam:CreateRole": (REQUEST_TAGS, REQUESTED_BOUNDARY),
    "iam:GetRole": (ROLE_TAGS,),
    "iam:ListRoles": (),
    "iam:UpdateRole": (ROLE_TAGS,),
    "iam:UpdateRoleDescription": (ROLE_TAGS,),
    "iam:UpdateAssumeRolePolicy": (ROLE_TAGS,),
    "iam:DeleteRole": (ROLE_TAGS,),
    "iam:TagRole": (ROLE_TAGS, REQUEST_TAGS),
    "iam:UntagRole": (ROLE_TAGS, REMOVED_TAG_KEYS),
    "iam:ListRoleTags": (ROLE_TAGS,),
    # access keys (the user resource)
    "iam:CreateAccessKey": (USER_TAGS,),
    "iam:ListAccessKeys": (USER_TAGS,),
    "iam:UpdateAccessKey": (USER_TAGS,),
    "iam:DeleteAccessKey": (USER_TAGS,),
    "iam:GetAccessKeyLastUsed": (KEY_OWNER_TAGS,),
    # managed policies and their versions
    "iam:CreatePolicy": (REQUEST_TAGS,),
    "iam:GetPolicy": (POLICY_TAGS,),
    "iam:ListPolicies": (),
    "iam:DeletePolicy": (POLICY_TAGS,),
    "iam:CreatePolicyVersion": (POLICY_TAGS,),
    "iam:GetPolicyVersion": (POLICY_TAGS,),
    "iam:ListPolicyVersions": (POLICY_TAGS,),
    "iam:DeletePolicyVersion": (POLICY_TAGS,),
    "iam:SetDefaultPolicyVersion": (POLICY_TAGS,),
    "iam:ListEntitiesForPolicy": (POLICY_TAGS,),
    # attachments
    "iam:AttachUserPolicy": (USER_TAGS, USER_BOUNDARY, POLICY_ARN),
    "iam:DetachUserPolicy": (USER_TAGS, USER_BOUNDARY, POLICY_ARN),
    "iam:AttachGroupPolicy": (POLICY_ARN,),
    "iam:DetachGroupPolicy": (POLICY_ARN,),
    "iam:AttachRolePolicy": (ROLE_TAGS, ROLE_BOUNDARY, POLICY_ARN),
    "iam:DetachRolePolicy": (ROLE_TAGS, ROLE_BOUNDARY, POLICY_ARN),
    "iam:ListAttachedUserPolicies": (USER_TAGS,),
    "iam:ListAttachedGroupPolicies": (),
    "iam:ListAttachedRolePolicies": (ROLE_TAGS,),
    # inline policies
    "iam:PutUserPolicy": (USER_TAGS, USER_BOUNDARY),
    "iam:GetUserPolicy": (USER_TAGS,),
    "iam:DeleteUserPolicy": (USER_TAGS, USER_BOUNDARY),
    "iam:ListUserPolicies": (USER_TAGS,),
    "iam:PutGroupPolicy": (),
    "iam:GetGroupPolicy": (),
    "iam:DeleteGroupPolicy": (),
    "iam:ListGroupPolicies": (),
    "iam:PutRolePolicy": (ROLE_TAGS, ROLE_BOUNDARY),
    "iam:GetRolePolicy": (ROLE_TAGS,),
    "iam:DeleteRolePolicy": (ROLE_TAGS, ROLE_BOUNDARY),
    "iam:ListRolePolicies": (ROLE_TAGS,),
    # permissions boundaries
    "iam:PutUserPermissionsBoundary": (USER_TAGS, REQUESTED_BOUNDARY),
    "iam:DeleteUserPermissionsBoundary": (USER_TAGS, USER_BOUNDARY),
    "iam:PutRolePermissionsBoundary": (ROLE_TAGS, REQUESTED_BOUNDARY),
    "iam:DeleteRolePermissionsBoundary": (ROLE_TAGS, ROLE_BOUNDARY),
    # the policy simulator: the entity is named by ARN, not by name; no keys of its own
    "iam:SimulatePrincipalPolicy": (),
    "iam:SimulateCustomPolicy": (),
}


def condition_keys_for(action: str, ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> ConditionKeys:
    """The action's own and its resource's condition keys for one request (an unknown action has none)."""
    keys: ConditionKeys = {}
    for family in ACTION_KEYS.get(action, ()):
        keys.update(family.build(ctx, caller, params))
    return keys
