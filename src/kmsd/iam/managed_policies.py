"""Managed policies: CreatePolicy, versions, DeletePolicy, Attach/Detach*Policy and the lists, with AWS's rules.

A managed policy is owned by one account (customer managed) or by ``aws``
(AWS managed, :mod:`kmsd.iam.aws_managed`), has up to five versions of which
one is the default, and is attached to users, groups and roles of the
caller's account.  The counts AWS reports (``AttachmentCount``,
``PermissionsBoundaryUsageCount``) are per account, so an AWS managed policy
shows only the caller's own attachments.  Documents are validated by the
policy engine as identity policies; responses carry them URL-encoded, as AWS
does (boto3 decodes them back into a dict).  Rules, limits and messages are
the IAM API Reference's per operation and "IAM and AWS STS quotas".
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.aws_managed import AWS_ACCOUNT, is_aws_managed, is_service_role_policy
from kmsd.iam.context import IamContext
from kmsd.iam.documents import url_encoded
from kmsd.iam.entity_kinds import ENTITY_KINDS, no_such_entity
from kmsd.iam.iam_tags import check_tag_quota, requested_tags, tag_list
from kmsd.iam.ids import POLICY_ID_PREFIX, new_unique_id, path_matches, validate_path
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.policy import PolicyKind, PolicySizeError, PolicyValidationError, SizeLimit, parse_policy
from kmsd.store.base import Conflict
from kmsd.store.models import ManagedPolicy, OwnerKind, PolicyAttachment, PolicyVersion

# "IAM and AWS STS quotas": versions per managed policy, managed policies attached per user/group/role.
MAX_POLICY_VERSIONS = 5
MAX_ATTACHED_POLICIES = 10

# arn:aws:iam::ACCOUNT:policy/PATH/NAME, where ACCOUNT is 12 digits or "aws" (AWS managed policies).
_POLICY_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}|aws):policy(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]+)"
)


# --- documents ----------------------------------------------------------------------------------


def checked_document(document: str, limit: SizeLimit | None = None) -> None:
    """Refuse a document the policy engine rejects: ``MalformedPolicyDocument`` with AWS's reason.

    Too large for ``limit`` (default: the managed-policy size, 6,144 characters without whitespace)
    is ``LimitExceeded`` with the limit's AWS wording.
    """
    try:
        parse_policy(document, PolicyKind.IDENTITY, max_size=limit)
    except PolicySizeError as error:
        raise AwsError("LimitExceeded", error.message, 409) from None
    except PolicyValidationError as error:
        raise AwsError("MalformedPolicyDocument", error.message, 400) from None


# --- finding policies ---------------------------------------------------------------------------


def invalid_arn(arn: str) -> AwsError:
    return AwsError("InvalidInput", f"ARN {arn} is not valid.", 400)


def checked_policy_arn(arn: str) -> str:
    """``arn`` when it has the form of a managed policy ARN, else ``InvalidInput`` "ARN ... is not valid."."""
    if _POLICY_ARN.fullmatch(arn) is None:
        raise invalid_arn(arn)
    return arn


def _visible_policy(ctx: IamContext, caller: Caller, arn: str) -> ManagedPolicy | None:
    """The policy ``arn`` names when the caller's account may use it: its own, or an AWS managed one."""
    checked_policy_arn(arn)
    policy = ctx.store.get_policy(arn)
    if policy is None or policy.account_id not in (caller.principal.account_id, AWS_ACCOUNT):
        return None
    return policy


def policy_named(ctx: IamContext, caller: Caller, arn: str) -> ManagedPolicy:
    policy = _visible_policy(ctx, caller, arn)
    if policy is None:
        raise no_such_entity(f"Policy {arn} was not found.")
    return policy


def attachable_policy(ctx: IamContext, caller: Caller, arn: str, entity: str) -> ManagedPolicy:
    """The policy an Attach*Policy names; ``entity`` ("User", "Group", "Role") words the refusal."""
    policy = _visible_policy(ctx, caller, arn)
    if policy is None:
        raise no_such_entity(f"Policy {arn} does not exist or is not attachable.")
    if is_service_role_policy(policy):
        # Managed Policy Reference, service-linked role policies: "You cannot attach this policy to your
        # users, groups, or roles." AWS answers a role with "Cannot attach a Service Role Policy to a
        # Customer Role."; users and groups get the same sentence for their kind.
        target = "Customer Role" if entity == "Role" else entity
        raise AwsError("PolicyNotAttachable", f"Cannot attach a Service Role Policy to a {target}.", 400)
    return policy


def _writable_policy(ctx: IamContext, caller: Caller, arn: str, action: str) -> ManagedPolicy:
    """A customer managed policy of the caller's account: AWS managed policies cannot be changed."""
    policy = policy_named(ctx, caller, arn)
    if is_aws_managed(policy):
        # AWS managed policies belong to AWS, not to the caller's account, so even its root is refused.
        raise AwsError(
            "AccessDenied",
            f"User: {caller.principal.arn} is not authorized to perform: {action} on resource: policy {arn}",
            403,
        )
    return policy


def _version_named(ctx: IamContext, policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    version = ctx.store.get_policy_version(policy.arn, version_id)
    if version is None:
        raise no_such_entity(f"Policy {policy.arn} version {version_id} does not exist or is not attachable.")
    return version


# --- response shapes ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PolicyUsage:
    """How often a policy is used in one account: attached, and as a permissions boundary."""

    attachments: int
    boundaries: int


def boundary_usage(ctx: IamContext, account_id: str) -> Counter[str]:
    """How many users and roles of the account use each policy ARN as their permissions boundary."""
    usage: Counter[str] = Counter()
    for user in ctx.store.list_users(account_id):
        if user.permissions_boundary_arn:
            usage[user.permissions_boundary_arn] += 1
    for role in ctx.store.list_roles(account_id):
        if role.permissions_boundary_arn:
            usage[role.permissions_boundary_arn] += 1
    return usage


def policy_usage(ctx: IamContext, account_id: str, arn: str, boundaries: Counter[str] | None = None) -> PolicyUsage:
    counted = boundaries if boundaries is not None else boundary_usage(ctx, account_id)
    return PolicyUsage(len(ctx.store.list_policy_attachments(arn, account_id)), counted[arn])


def policy_shape(policy: ManagedPolicy, usage: PolicyUsage, *, detailed: bool) -> dict[str, Any]:
    """The ``Policy`` structure; ``detailed`` (GetPolicy) adds Description and Tags, which ListPolicies omits."""
    shape: dict[str, Any] = {
        "PolicyName": policy.policy_name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": usage.attachments,
        "PermissionsBoundaryUsageCount": usage.boundaries,
        "IsAttachable": True,
        "CreateDate": policy.created_at,
        "UpdateDate": policy.updated_at,
    }
    if detailed and policy.description:
        shape["Description"] = policy.description
    if detailed and policy.tags:
        shape["Tags"] = tag_list(policy.tags)
    return shape


def _version_shape(policy: ManagedPolicy, version: PolicyVersion, *, with_document: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == policy.default_version_id,
        "CreateDate": version.created_at,
    }
    if with_document:
        shape["Document"] = url_encoded(version.document)
    return shape


def _version_number(version_id: str) -> int:
    return int(version_id[1:].split(".", 1)[0])


# --- policies -----------------------------------------------------------------------------------


def create_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    name = str(params["PolicyName"])
    path = str(params.get("Path") or "/")
    validate_path(path)
    document = str(params["PolicyDocument"])
    checked_document(document)
    tags = requested_tags(params)
    check_tag_quota(tags, "Policy")
    now = ctx.clock.now()
    policy = ManagedPolicy(
        arn=f"arn:aws:iam::{account_id}:policy{path}{name}",
        policy_id=new_unique_id(ctx.rng, POLICY_ID_PREFIX),
        account_id=account_id,
        policy_name=name,
        path=path,
        default_version_id="v1",
        created_at=now,
        updated_at=now,
        description=str(params.get("Description") or ""),
        next_version_number=2,
        tags=tags,
    )
    try:
        ctx.store.insert_policy(policy)
    except Conflict:
        # CreatePolicy: names are unique within the account, whatever the path or case.
        raise AwsError(
            "EntityAlreadyExists", f"A policy called {name} already exists. Duplicate names are not allowed.", 409
        ) from None
    ctx.store.add_policy_version(PolicyVersion(policy.arn, "v1", document, now))
    shape = policy_shape(policy, PolicyUsage(0, 0), detailed=False)
    if tags:
        shape["Tags"] = tag_list(tags)
    return {"Policy": shape}


def get_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = policy_named(ctx, caller, str(params["PolicyArn"]))
    usage = policy_usage(ctx, caller.principal.account_id, policy.arn)
    return {"Policy": policy_shape(policy, usage, detailed=True)}


def _listed_policies(ctx: IamContext, account_id: str, scope: str, path_prefix: str) -> list[ManagedPolicy]:
    owners = {"AWS": [AWS_ACCOUNT], "Local": [account_id]}.get(scope, [AWS_ACCOUNT, account_id])
    policies = [policy for owner in owners for policy in ctx.store.list_policies(owner, path_prefix)]
    return sorted(policies, key=_policy_sort_key)


def _policy_sort_key(policy: ManagedPolicy) -> str:
    # Names sort case-insensitively; an account's policy may share its name with an AWS managed one.
    return f"{policy.policy_name.lower()}\x00{policy.arn}"


def list_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListPolicies: ``Scope`` All (default) / AWS / Local, ``OnlyAttached``, ``PolicyUsageFilter``, ``PathPrefix``.

    ``PolicyUsageFilter`` keeps the policies used that way in the account: ``PermissionsPolicy``
    those attached to an entity, ``PermissionsBoundary`` those set as a permissions boundary.
    """
    account_id = caller.principal.account_id
    scope = str(params.get("Scope") or "All")
    prefix = str(params.get("PathPrefix") or "/")
    boundaries = boundary_usage(ctx, account_id)
    only_attached = bool(params.get("OnlyAttached"))
    usage_filter = params.get("PolicyUsageFilter")
    listed: list[tuple[ManagedPolicy, PolicyUsage]] = []
    for policy in _listed_policies(ctx, account_id, scope, prefix):
        usage = policy_usage(ctx, account_id, policy.arn, boundaries)
        if only_attached and usage.attachments == 0:
            continue
        if usage_filter == "PermissionsPolicy" and usage.attachments == 0:
            continue
        if usage_filter == "PermissionsBoundary" and usage.boundaries == 0:
            continue
        listed.append((policy, usage))
    page = paginate(listed, lambda item: _policy_sort_key(item[0]), f"policies/{scope}/{prefix}", params)
    return {
        "Policies": [policy_shape(policy, usage, detailed=False) for policy, usage in page.items],
        **page.response_members(),
    }


def delete_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = _writable_policy(ctx, caller, str(params["PolicyArn"]), "iam:DeletePolicy")
    usage = policy_usage(ctx, caller.principal.account_id, policy.arn)
    if usage.attachments or usage.boundaries:
        # DeletePolicy: "Before you can delete a managed policy, you must first detach the policy from all
        # users, groups, and roles that it is attached to."
        raise AwsError("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    if len(ctx.store.list_policy_versions(policy.arn)) > 1:
        # DeletePolicy: "you must ... delete all of the policy's versions" except the default one.
        raise AwsError(
            "DeleteConflict",
            "This policy has more than one version. Before you delete a policy, you must delete the policy's "
            "versions. The default version is deleted with the policy.",
            409,
        )
    ctx.store.delete_policy(policy.arn)
    return {}


# --- versions -----------------------------------------------------------------------------------


def create_policy_version(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = _writable_policy(ctx, caller, str(params["PolicyArn"]), "iam:CreatePolicyVersion")
    document = str(params["PolicyDocument"])
    checked_document(document)
    if len(ctx.store.list_policy_versions(policy.arn)) >= MAX_POLICY_VERSIONS:
        # CreatePolicyVersion: "A managed policy can have up to five versions."
        raise AwsError(
            "LimitExceeded",
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
            "existing version.",
            409,
        )
    now = ctx.clock.now()
    # Version ids are never reused: v1, v2, v3 ... even after deleting some ("Versioning IAM policies").
    version = PolicyVersion(policy.arn, f"v{policy.next_version_number}", document, now)
    ctx.store.add_policy_version(version)
    updated = dataclasses.replace(
        policy,
        next_version_number=policy.next_version_number + 1,
        # Policy.UpdateDate: "when the most recent policy version was created".
        updated_at=now,
        default_version_id=version.version_id if params.get("SetAsDefault") else policy.default_version_id,
    )
    ctx.store.update_policy(updated)
    return {"PolicyVersion": _version_shape(updated, version, with_document=False)}


def get_policy_version(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = policy_named(ctx, caller, str(params["PolicyArn"]))
    version = _version_named(ctx, policy, str(params["VersionId"]))
    return {"PolicyVersion": _version_shape(policy, version, with_document=True)}


def list_policy_versions(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """Newest version first, as AWS lists them; documents are left out (only GetPolicyVersion has them)."""
    policy = policy_named(ctx, caller, str(params["PolicyArn"]))
    versions = sorted(
        ctx.store.list_policy_versions(policy.arn), key=lambda v: _version_number(v.version_id), reverse=True
    )
    page = paginate(
        versions, lambda v: f"{10**9 - _version_number(v.version_id):010d}", f"versions/{policy.arn}", params
    )
    return {
        "Versions": [_version_shape(policy, version, with_document=False) for version in page.items],
        **page.response_members(),
    }


def delete_policy_version(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = _writable_policy(ctx, caller, str(params["PolicyArn"]), "iam:DeletePolicyVersion")
    version = _version_named(ctx, policy, str(params["VersionId"]))
    if version.version_id == policy.default_version_id:
        # DeletePolicyVersion: "You cannot delete the default version from a policy using this operation."
        raise AwsError("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    ctx.store.delete_policy_version(policy.arn, version.version_id)
    return {}


def set_default_policy_version(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = _writable_policy(ctx, caller, str(params["PolicyArn"]), "iam:SetDefaultPolicyVersion")
    version = _version_named(ctx, policy, str(params["VersionId"]))
    ctx.store.update_policy(dataclasses.replace(policy, default_version_id=version.version_id))
    return {}


# --- attachments --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Owner:
    kind: OwnerKind
    owner_id: str
    entity: str  # "User" | "Group" | "Role", as AWS names the kind in quotas and messages


def _owner(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> _Owner:
    entity_kind = ENTITY_KINDS[kind]
    return _Owner(kind, entity_kind.id_of(entity_kind.requested(ctx, caller, params)), entity_kind.title)


def _attach(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    policy = attachable_policy(ctx, caller, str(params["PolicyArn"]), owner.entity)
    attached = ctx.store.list_attached_policies(owner.kind, owner.owner_id)
    if policy.arn in attached:
        return {}  # Attach*Policy is idempotent
    if len(attached) >= MAX_ATTACHED_POLICIES:
        # "IAM and AWS STS quotas": managed policies attached to an IAM user, group or role: 10.
        raise AwsError(
            "LimitExceeded", f"Cannot exceed quota for PoliciesPer{owner.entity}: {MAX_ATTACHED_POLICIES}", 409
        )
    ctx.store.attach_policy(PolicyAttachment(caller.principal.account_id, owner.kind, owner.owner_id, policy.arn))
    return {}


def _detach(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    arn = checked_policy_arn(str(params["PolicyArn"]))
    if arn not in ctx.store.list_attached_policies(owner.kind, owner.owner_id):
        raise no_such_entity(f"Policy {arn} was not found.")
    ctx.store.detach_policy(owner.kind, owner.owner_id, arn)
    return {}


def _list_attached(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    prefix = str(params.get("PathPrefix") or "/")
    attached = []
    for arn in ctx.store.list_attached_policies(owner.kind, owner.owner_id):
        policy = ctx.store.get_policy(arn)
        if policy is not None and path_matches(policy.path, prefix):
            attached.append(policy)
    attached.sort(key=_policy_sort_key)
    page = paginate(attached, _policy_sort_key, f"attached/{kind}/{owner.owner_id}/{prefix}", params)
    return {
        "AttachedPolicies": [{"PolicyName": policy.policy_name, "PolicyArn": policy.arn} for policy in page.items],
        **page.response_members(),
    }


def attach_user_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _attach(ctx, caller, "user", params)


def detach_user_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _detach(ctx, caller, "user", params)


def attach_group_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _attach(ctx, caller, "group", params)


def detach_group_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _detach(ctx, caller, "group", params)


def attach_role_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _attach(ctx, caller, "role", params)


def detach_role_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _detach(ctx, caller, "role", params)


def list_attached_user_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, caller, "user", params)


def list_attached_group_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, caller, "group", params)


def list_attached_role_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, caller, "role", params)


# --- who uses a policy --------------------------------------------------------------------------

# EntityFilter values that name an entity kind; LocalManagedPolicy / AWSManagedPolicy name none here.
_ENTITY_KINDS: dict[str, OwnerKind] = {"User": "user", "Group": "group", "Role": "role"}
_KIND_ORDER: dict[OwnerKind, int] = {"group": 0, "role": 1, "user": 2}


def list_entities_for_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """ListEntitiesForPolicy: the account's groups, users and roles that use the policy.

    ``PolicyUsageFilter`` ``PermissionsPolicy`` lists those it is attached to, ``PermissionsBoundary``
    the users and roles it bounds; without it, both.  ``PathPrefix`` filters on the entities' paths.
    """
    policy = policy_named(ctx, caller, str(params["PolicyArn"]))
    account_id = caller.principal.account_id
    prefix = str(params.get("PathPrefix") or "/")
    entity_filter = params.get("EntityFilter")
    wanted_kinds: set[OwnerKind] = set(_KIND_ORDER)
    if entity_filter is not None:
        wanted_kinds = {_ENTITY_KINDS[str(entity_filter)]} if entity_filter in _ENTITY_KINDS else set()
    usage_filter = params.get("PolicyUsageFilter")
    # (kind, name, id, path) of each entity, once even when it both has the policy attached and as boundary.
    entities: dict[str, tuple[OwnerKind, str, str, str]] = {}
    if usage_filter in (None, "PermissionsPolicy"):
        for attachment in ctx.store.list_policy_attachments(policy.arn, account_id):
            entity = _entity(ctx, attachment.owner_kind, attachment.owner_id)
            if entity is not None:
                entities[attachment.owner_id] = entity
    if usage_filter in (None, "PermissionsBoundary"):
        for user in ctx.store.list_users(account_id):
            if user.permissions_boundary_arn == policy.arn:
                entities[user.user_id] = ("user", user.user_name, user.user_id, user.path)
        for role in ctx.store.list_roles(account_id):
            if role.permissions_boundary_arn == policy.arn:
                entities[role.role_id] = ("role", role.role_name, role.role_id, role.path)
    selected = sorted(
        (e for e in entities.values() if e[0] in wanted_kinds and path_matches(e[3], prefix)), key=_entity_sort_key
    )
    page = paginate(selected, _entity_sort_key, f"entities/{policy.arn}/{prefix}", params)
    return {
        "PolicyGroups": [{"GroupName": name, "GroupId": id_} for kind, name, id_, _ in page.items if kind == "group"],
        "PolicyUsers": [{"UserName": name, "UserId": id_} for kind, name, id_, _ in page.items if kind == "user"],
        "PolicyRoles": [{"RoleName": name, "RoleId": id_} for kind, name, id_, _ in page.items if kind == "role"],
        **page.response_members(),
    }


def _entity_sort_key(entity: tuple[OwnerKind, str, str, str]) -> str:
    kind, name, entity_id, _ = entity
    return f"{_KIND_ORDER[kind]}\x00{name.lower()}\x00{entity_id}"


def _entity(ctx: IamContext, kind: OwnerKind, owner_id: str) -> tuple[OwnerKind, str, str, str] | None:
    if kind == "user":
        user = ctx.store.get_user_by_id(owner_id)
        return None if user is None else ("user", user.user_name, user.user_id, user.path)
    if kind == "group":
        group = ctx.store.get_group_by_id(owner_id)
        return None if group is None else ("group", group.group_name, group.group_id, group.path)
    role = ctx.store.get_role_by_id(owner_id)
    return None if role is None else ("role", role.role_name, role.role_id, role.path)
