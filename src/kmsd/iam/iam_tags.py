"""Tags on IAM users and roles: TagUser/UntagUser/ListUserTags, TagRole/UntagRole/ListRoleTags, and tags at creation.

The rules are IAM's ("Tagging IAM resources" in the IAM User Guide; TagUser and
TagRole in the IAM API reference): at most 50 tags per user or role; tag keys
of users and roles are not case-sensitive but keep their case, so tagging
``department`` over ``Department`` replaces the tag (and the new spelling
wins); one request may not name a key twice in any case; the ``aws:`` prefix is
reserved for AWS.  Lengths and character patterns are checked by the API
layer from botocore's model.  Tags come back sorted by key.  The six
operations are written once, over the table of entity kinds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import ROLES, USERS, EntityKind
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.store.models import IamRole, IamUser

# The entity kinds that carry tags (IAM groups have none).
Tagged = TypeVar("Tagged", IamUser, IamRole)
Handler = Callable[[IamContext, Caller, Mapping[str, Any]], dict[str, Any]]

MAX_TAGS_PER_ENTITY = 50  # "IAM and AWS STS quotas": tags per IAM user / role


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


def requested_tags(params: Mapping[str, Any]) -> dict[str, str]:
    """The request's ``Tags`` as a dict, refusing duplicate keys (in any case) and ``aws:`` keys."""
    tags: dict[str, str] = {}
    seen: set[str] = set()
    for tag in params.get("Tags") or []:
        key, value = str(tag["Key"]), str(tag.get("Value", ""))
        if key.lower() in seen:
            # TagUser/TagRole/CreateUser/CreateRole: keys are case-insensitive for users and roles.
            raise invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(key.lower())
        if key.lower().startswith("aws:"):
            # "Tagging IAM resources": the aws: prefix is reserved for AWS use.
            raise invalid_input("User-defined tag keys can't start with the prefix aws:.")
        tags[key] = value
    return tags


def merged_tags(existing: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """``existing`` with ``new`` applied; a key matching an existing one in another case replaces it."""
    merged = dict(existing)
    for key, value in new.items():
        for old in [k for k in merged if k.lower() == key.lower()]:
            del merged[old]
        merged[key] = value
    return merged


def without_tags(existing: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """``existing`` less ``keys`` (case-insensitively); a key naming no tag is not an error."""
    doomed = {key.lower() for key in keys}
    return {k: v for k, v in existing.items() if k.lower() not in doomed}


def check_tag_quota(tags: Mapping[str, str], entity: str) -> None:
    if len(tags) > MAX_TAGS_PER_ENTITY:
        raise AwsError("LimitExceeded", f"Cannot exceed quota for TagsPer{entity}: {MAX_TAGS_PER_ENTITY}", 409)


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """The ``Tags`` member of a response: ``[{"Key", "Value"}]`` sorted by key."""
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def _tagger(kind: EntityKind[Tagged]) -> Handler:
    def tag(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = kind.requested(ctx, caller, params)
        tags = merged_tags(entity.tags, requested_tags(params))
        check_tag_quota(tags, kind.title)
        kind.update(ctx.store, dataclasses.replace(entity, tags=tags))
        return {}

    return tag


def _untagger(kind: EntityKind[Tagged]) -> Handler:
    def untag(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = kind.requested(ctx, caller, params)
        kind.update(ctx.store, dataclasses.replace(entity, tags=without_tags(entity.tags, params["TagKeys"])))
        return {}

    return untag


def _tag_lister(kind: EntityKind[Tagged]) -> Handler:
    def list_tags(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = kind.requested(ctx, caller, params)
        scope = f"{kind.owner_kind}-tags/{kind.id_of(entity)}"
        page = paginate(tag_list(entity.tags), lambda tag: tag["Key"], scope, params)
        return {"Tags": page.items, **page.response_members()}

    return list_tags


tag_user, untag_user, list_user_tags = _tagger(USERS), _untagger(USERS), _tag_lister(USERS)
tag_role, untag_role, list_role_tags = _tagger(ROLES), _untagger(ROLES), _tag_lister(ROLES)
