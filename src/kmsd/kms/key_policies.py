"""Key policies: validation of a policy document, and GetKeyPolicy, PutKeyPolicy and ListKeyPolicies.

A key has exactly one key policy, named ``default`` ("Key policies in AWS
KMS"; GetKeyPolicy: "The only valid name is default").  The document is
stored exactly as the caller sent it, so GetKeyPolicy returns the same
text, until an IAM user or role it names as a principal is deleted (the
principal then reads as the deleted entity's unique id, ``AIDA...`` /
``AROA...``, which no one who is created later under that name matches) or a
user it names is renamed (the principal then reads as the new ARN): the store
rewrites the document in the same transaction
(:mod:`kmsd.store.sql.principal_references`).  Validation is the policy engine's (``kmsd.policy``, resource-policy
rules) plus KMS's own (:mod:`kmsd.authz.key_policy_rules`: every statement
has a Resource, every principal exists): a malformed document is
``MalformedPolicyDocumentException`` with the reason, a document over KMS's
32 KB key policy limit is ``LimitExceededException`` ("Resource quotas: Key
policy document size").  Unless ``BypassPolicyLockoutSafetyCheck`` is true,
the new policy must pass the authorizer's lockout safety check (CreateKey
shares it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kmsd.authz import key_policy_rules
from kmsd.errors import not_found
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.paging import paginate
from kmsd.kms.resolve import Resolved
from kmsd.store.models import KeyRecord

DEFAULT_POLICY_NAME = "default"


def validate_key_policy(ctx: KmsContext, text: str) -> None:
    """Raise AWS's error for a key policy document KMS refuses."""
    key_policy_rules.validate_key_policy(ctx.store, text)


def check_lockout(
    ctx: KmsContext, caller: Caller, key: KeyRecord, params: Mapping[str, Any], via_service: str | None
) -> None:
    """The key policy lockout safety check for ``key`` carrying its new policy, unless the request bypasses it."""
    if params.get("BypassPolicyLockoutSafetyCheck"):
        return
    ctx.authorizer.check_lockout(caller, key, via_service)


def _require_default_name(params: Mapping[str, Any]) -> None:
    name = params.get("PolicyName")
    if name is not None and name != DEFAULT_POLICY_NAME:
        # The only key policy a key has is "default"; any other name names nothing.
        raise not_found(f"No such policy exists: {name}. The only valid policy name is {DEFAULT_POLICY_NAME}.")


def get_key_policy(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("GetKeyPolicy", key)
    _require_default_name(params)
    return {"Policy": key.policy, "PolicyName": DEFAULT_POLICY_NAME}


def put_key_policy(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("PutKeyPolicy", key)
    _require_default_name(params)
    text = str(params["Policy"])
    validate_key_policy(ctx, text)
    updated = replace(key, policy=text)
    check_lockout(ctx, caller, updated, params, resolved.via_service)
    ctx.store.update_key(updated)
    return {}


def list_key_policies(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("ListKeyPolicies", key)
    page = paginate([DEFAULT_POLICY_NAME], lambda name: name, f"policies:{key.key_id}", params)
    return {"PolicyNames": page.items, **page.response_members()}
