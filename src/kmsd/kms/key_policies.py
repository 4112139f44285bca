"""Key policies: validation of a policy document, and GetKeyPolicy, PutKeyPolicy and ListKeyPolicies.

A key has exactly one key policy, named ``default`` ("Key policies in AWS
KMS"; GetKeyPolicy: "The only valid name is default").  The document is
stored exactly as the caller sent it, so GetKeyPolicy returns the same
text.  Validation is the policy engine's (``kmsd.policy``, resource-policy
rules): a malformed document is ``MalformedPolicyDocumentException`` with the
engine's reason, a document over KMS's 32 KB key policy limit is
``LimitExceededException`` ("Resource quotas: Key policy document size").
``BypassPolicyLockoutSafetyCheck`` is accepted; the lockout check itself
belongs to the authorizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kmsd.errors import AwsError, not_found
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.paging import paginate
from kmsd.kms.resolve import find_own_key
from kmsd.policy import PolicyKind, PolicySizeError, PolicyValidationError, parse_policy

DEFAULT_POLICY_NAME = "default"


def validate_key_policy(text: str) -> None:
    """Raise AWS's error for a key policy document the policy engine rejects."""
    try:
        parse_policy(text, PolicyKind.RESOURCE)
    except PolicySizeError as error:
        raise AwsError("LimitExceededException", error.message) from None
    except PolicyValidationError as error:
        raise AwsError("MalformedPolicyDocumentException", error.message) from None


def _require_default_name(params: Mapping[str, Any]) -> None:
    name = params.get("PolicyName")
    if name is not None and name != DEFAULT_POLICY_NAME:
        # The only key policy a key has is "default"; any other name names nothing.
        raise not_found(f"No such policy exists: {name}. The only valid policy name is {DEFAULT_POLICY_NAME}.")


def get_key_policy(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    key = find_own_key(ctx, caller, str(params["KeyId"]))
    require_state("GetKeyPolicy", key)
    _require_default_name(params)
    return {"Policy": key.policy, "PolicyName": DEFAULT_POLICY_NAME}


def put_key_policy(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    key = find_own_key(ctx, caller, str(params["KeyId"]))
    require_state("PutKeyPolicy", key)
    _require_default_name(params)
    text = str(params["Policy"])
    validate_key_policy(text)
    ctx.store.update_key(replace(key, policy=text))
    return {}


def list_key_policies(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    key = find_own_key(ctx, caller, str(params["KeyId"]))
    require_state("ListKeyPolicies", key)
    page = paginate([DEFAULT_POLICY_NAME], lambda name: name, f"policies:{key.key_id}", params)
    return {"PolicyNames": page.items, **page.response_members()}
