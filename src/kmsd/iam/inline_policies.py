"""Inline policies of users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy.

An inline policy belongs to one entity and lives and dies with it.  Its
document is validated by the policy engine as an identity policy; what is
limited is the aggregate size of all of an entity's inline policies ("IAM and
AWS STS quotas": user 2,048, group 5,120, role 10,240 characters, whitespace
not counted), which AWS refuses with ``LimitExceeded`` "Maximum policy size of
2048 bytes exceeded for user NAME".  Documents come back URL-encoded, as AWS
returns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.documents import url_encoded
from kmsd.iam.entity_kinds import ENTITY_KINDS, no_such_entity
from kmsd.iam.managed_policies import checked_document
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.policy import SizeLimit
from kmsd.policy.limits import GROUP_INLINE_POLICY, ROLE_INLINE_POLICY, USER_INLINE_POLICY
from kmsd.store.models import InlinePolicy, OwnerKind

_LIMITS: dict[OwnerKind, SizeLimit] = {
    "user": USER_INLINE_POLICY,
    "group": GROUP_INLINE_POLICY,
    "role": ROLE_INLINE_POLICY,
}
# The request and response member that names the owner, per kind.


@dataclass(frozen=True)
class _Owner:
    kind: OwnerKind
    owner_id: str
    name: str  # as stored (names match case-insensitively, and AWS answers with the stored spelling)


def _owner(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> _Owner:
    entity_kind = ENTITY_KINDS[kind]
    entity = entity_kind.requested(ctx, caller, params)
    return _Owner(kind, entity_kind.id_of(entity), entity_kind.name_of(entity))


def _too_large(owner: _Owner) -> AwsError:
    limit = _LIMITS[owner.kind].limit
    return AwsError(
        "LimitExceeded", f"Maximum policy size of {limit} bytes exceeded for {owner.kind} {owner.name}", 409
    )


def _policy_named(ctx: IamContext, owner: _Owner, policy_name: str) -> InlinePolicy:
    policy = ctx.store.get_inline_policy(owner.kind, owner.owner_id, policy_name)
    if policy is None:
        raise no_such_entity(f"The {owner.kind} policy with name {policy_name} cannot be found.")
    return policy


def _put(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    policy_name = str(params["PolicyName"])
    document = str(params["PolicyDocument"])
    limit = _LIMITS[kind]
    try:
        checked_document(document, limit)
    except AwsError as error:
        if error.code == "LimitExceeded":
            raise _too_large(owner) from None
        raise
    # "IAM and AWS STS quotas": the limit is on the sum of the entity's inline policies; a policy
    # being replaced no longer counts with its old document.
    others = sum(
        limit.measure(policy.document)
        for policy in ctx.store.list_inline_policies(kind, owner.owner_id)
        if policy.policy_name != policy_name
    )
    if others + limit.measure(document) > limit.limit:
        raise _too_large(owner)
    ctx.store.put_inline_policy(InlinePolicy(caller.principal.account_id, kind, owner.owner_id, policy_name, document))
    return {}


def _get(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    policy = _policy_named(ctx, owner, str(params["PolicyName"]))
    return {
        ENTITY_KINDS[kind].name_member: owner.name,
        "PolicyName": policy.policy_name,
        "PolicyDocument": url_encoded(policy.document),
    }


def _delete(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    policy = _policy_named(ctx, owner, str(params["PolicyName"]))
    ctx.store.delete_inline_policy(kind, owner.owner_id, policy.policy_name)
    return {}


def _list(ctx: IamContext, caller: Caller, kind: OwnerKind, params: Mapping[str, Any]) -> dict[str, Any]:
    owner = _owner(ctx, caller, kind, params)
    names = [policy.policy_name for policy in ctx.store.list_inline_policies(kind, owner.owner_id)]
    page = paginate(sorted(names), lambda name: name, f"inline/{kind}/{owner.owner_id}", params)
    return {"PolicyNames": page.items, **page.response_members()}


def put_user_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _put(ctx, caller, "user", params)


def get_user_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _get(ctx, caller, "user", params)


def delete_user_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _delete(ctx, caller, "user", params)


def list_user_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _list(ctx, caller, "user", params)


def put_group_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _put(ctx, caller, "group", params)


def get_group_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _get(ctx, caller, "group", params)


def delete_group_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _delete(ctx, caller, "group", params)


def list_group_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _list(ctx, caller, "group", params)


def put_role_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _put(ctx, caller, "role", params)


def get_role_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _get(ctx, caller, "role", params)


def delete_role_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _delete(ctx, caller, "role", params)


def list_role_policies(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    return _list(ctx, caller, "role", params)
