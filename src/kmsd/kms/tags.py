"""Tags on KMS keys: AWS's tag rules, and TagResource, UntagResource and ListResourceTags.

The rules ("Tagging keys", KMS Developer Guide; TagResource API reference):
a tag key is 1-128 characters and a value 0-256, a key has at most 50 tags,
a request may not name one tag key twice, and keys starting with ``aws:``
(any case) are reserved for AWS.  Lengths are model constraints and so
``ValidationException``s in AWS's "N validation error(s) detected" form; the
other rules are ``TagException``s.  CreateKey applies the same rules through
:func:`validate_tags` before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from kmsd.errors import AwsError, ValidationError, constraint_violation
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.paging import paginate
from kmsd.kms.resolve import Resolved

MAX_TAGS_PER_KEY = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
_RESERVED_PREFIX = "aws:"


def tag_error(message: str) -> AwsError:
    return AwsError("TagException", message)


def validate_tags(tags: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The request's ``Tags`` list as a dict, after AWS's checks, in request order."""
    problems = []
    for position, tag in enumerate(tags, start=1):
        key, value = str(tag.get("TagKey", "")), str(tag.get("TagValue", ""))
        if not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
            bound = "greater than or equal to 1" if not key else f"less than or equal to {MAX_TAG_KEY_LENGTH}"
            problems.append(
                constraint_violation(key, f"tags.{position}.member.tagKey", f"Member must have length {bound}")
            )
        if len(value) > MAX_TAG_VALUE_LENGTH:
            problems.append(
                constraint_violation(
                    value,
                    f"tags.{position}.member.tagValue",
                    f"Member must have length less than or equal to {MAX_TAG_VALUE_LENGTH}",
                )
            )
    if problems:
        raise ValidationError(problems)
    keys = [str(tag["TagKey"]) for tag in tags]
    if len(set(keys)) != len(keys):
        raise tag_error("Duplicate tag keys")
    if len(keys) > MAX_TAGS_PER_KEY:
        raise tag_error("Too many tags")
    _refuse_reserved(keys)
    return {str(tag["TagKey"]): str(tag.get("TagValue", "")) for tag in tags}


def _refuse_reserved(keys: Iterable[str]) -> None:
    # "aws:" is reserved for AWS-created tags, in any capitalisation.
    if any(key.lower().startswith(_RESERVED_PREFIX) for key in keys):
        raise tag_error("Tags beginning with aws: are reserved")


def tag_resource(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("TagResource", key)
    added = validate_tags(params["Tags"])
    merged = {**key.tags, **added}
    if len(merged) > MAX_TAGS_PER_KEY:
        raise tag_error("Too many tags")
    ctx.store.update_key(replace(key, tags=merged))
    return {}


def untag_resource(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("UntagResource", key)
    removed = [str(name) for name in params["TagKeys"]]
    _refuse_reserved(removed)
    # Untagging a key that does not carry the tag is not an error in AWS.
    remaining = {name: value for name, value in key.tags.items() if name not in removed}
    ctx.store.update_key(replace(key, tags=remaining))
    return {}


def list_resource_tags(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("ListResourceTags", key)
    ordered = sorted(key.tags.items())
    # ListResourceTags API reference: Limit "must be between 1 and 50 ... it defaults to 50".
    page = paginate(ordered, lambda item: item[0], f"tags:{key.key_id}", params, default=50, maximum=50)
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in page.items], **page.response_members()}
