"""The life of a key: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey and UpdateKeyDescription.

kmsd creates the key specs :mod:`kmsd.crypto.key_spec` marks creatable (symmetric, RSA, NIST and SECG
elliptic curves, Edwards25519, ML-DSA, ML-KEM, HMAC; origin ``AWS_KMS`` or ``EXTERNAL``;
single-Region or a multi-Region primary key, whose replicas ReplicateKey makes in
:mod:`kmsd.kms.replicas`), each with a usage its spec allows, and symmetric keys in a
connected custom key store (origin ``AWS_CLOUDHSM`` or ``EXTERNAL_KEY_STORE``,
:mod:`kmsd.kms.token_keys`, :mod:`kmsd.kms.xks_keys`).  A request for any
other kind of key is refused before anything is written, with AWS's error
where AWS would refuse it too and ``UnsupportedOperationException`` where AWS
would build something kmsd does not build yet (the specs ``cryptography``
cannot do, key material of other origins).  A key policy in the request must
pass KMS's key policy rules and the lockout safety check.  CreateKey writes
the key and its first key material in the caller's transaction, so a failure
part-way leaves no key behind.

Guessed wording for keys in custom key stores (AWS documents the rule, not the
message): ValidationException "CustomKeyStoreId requires Origin AWS_CLOUDHSM or
EXTERNAL_KEY_STORE, not <origin>."; UnsupportedOperationException "KeySpec <spec>
is not supported for KMS keys in a custom key store." and "Multi-Region keys
cannot be created in a custom key store."  Guessed wording for a key spec whose
material cannot be imported (ML-DSA, ML-KEM): UnsupportedOperationException
"Origin EXTERNAL is not supported for KeySpec <spec>."
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kmsd.authz.authorizer import NamedKey
from kmsd.authz.default_policy import default_key_policy
from kmsd.authz.permissions import Target
from kmsd.crypto.asymmetric import new_private_key
from kmsd.crypto.imported_material import importable_specs
from kmsd.crypto.key_spec import KEY_SPECS, KeySpec, default_key_spec
from kmsd.crypto.mac import new_hmac_material
from kmsd.errors import AwsError, ValidationError
from kmsd.iam.principal import Caller
from kmsd.kms import token_keys, xks_keys
from kmsd.kms.context import KmsContext
from kmsd.kms.custom_key_stores import custom_key_store_for_new_key
from kmsd.kms.expiry import purge_expired_keys
from kmsd.kms.key_policies import check_lockout, validate_key_policy
from kmsd.kms.key_states import require_state
from kmsd.kms.metadata import key_metadata
from kmsd.kms.paging import decode_marker, encode_marker, limit_of
from kmsd.kms.resolve import Resolved
from kmsd.kms.tags import validate_tags
from kmsd.kms.token_keys import EXTERNAL_KEY_STORE, TOKEN_ORIGINS
from kmsd.store.models import KeyRecord

_CUSTOM_KEY_STORE_ORIGINS = TOKEN_ORIGINS


def unsupported(message: str) -> AwsError:
    return AwsError("UnsupportedOperationException", message)


def _requested_key_spec(params: Mapping[str, Any]) -> str:
    """The spec name the request asks for (botocore's model has checked it is one), or the default's."""
    key_spec, legacy_spec = params.get("KeySpec"), params.get("CustomerMasterKeySpec")
    if key_spec is not None and legacy_spec is not None:
        # CreateKey: KeySpec replaces the deprecated CustomerMasterKeySpec; AWS refuses both at once.
        raise ValidationError(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated."
        )
    return str(key_spec or legacy_spec or default_key_spec().name)


def _check_key_kind(params: Mapping[str, Any]) -> tuple[str, str, str]:
    """The (key spec, key usage, origin) of the requested key, when kmsd can create it."""
    key_spec = _requested_key_spec(params)
    spec: KeySpec | None = KEY_SPECS.get(key_spec)
    default = default_key_spec()
    requested_usage = params.get("KeyUsage")
    if requested_usage is None and spec is not None and spec is not default:
        # CreateKey "KeyUsage": "This parameter is optional when you are creating a symmetric encryption
        # KMS key; otherwise, it is required."
        raise ValidationError(f"You must specify a KeyUsage value for a KMS key with KeySpec {key_spec}.")
    usage = str(requested_usage or default.key_usages[0])
    origin = str(params.get("Origin") or "AWS_KMS")
    if spec is not None and usage not in spec.key_usages:
        # "Key spec reference": the usages each spec allows (symmetric keys: ENCRYPT_DECRYPT only).
        raise ValidationError(f"KeyUsage {usage} is not compatible with KeySpec {key_spec}")
    if spec is None or not spec.creatable:
        # The specs `cryptography` cannot do yet (README: "Key specs"), answered as AWS answers a spec that
        # is not available in the Region.
        raise unsupported(f"KeySpec {key_spec} is not supported in this Region")
    if params.get("CustomKeyStoreId") is not None or origin in _CUSTOM_KEY_STORE_ORIGINS:
        _check_custom_key_store_key(params, key_spec, origin)
        xks_keys.check_request(params, origin)
        return key_spec, usage, origin
    xks_keys.check_request(params, origin)
    if origin == "EXTERNAL" and not (spec.importable and key_spec in importable_specs()):
        # "Requirements for imported key material": the key specs whose material can be imported.
        raise unsupported(f"Origin EXTERNAL is not supported for KeySpec {key_spec}.")
    if origin not in ("AWS_KMS", "EXTERNAL"):
        raise unsupported(f"Origin {origin} is not supported by kmsd.")
    if params.get("MultiRegion") and not spec.multi_region:
        # "Multi-Region keys in AWS KMS": the key types that can be multi-Region.
        raise unsupported(f"KeySpec {key_spec} does not support multi-Region keys.")
    return key_spec, usage, origin


def _check_custom_key_store_key(params: Mapping[str, Any], key_spec: str, origin: str) -> None:
    """CreateKey "CustomKeyStoreId": "valid only for symmetric encryption KMS keys in a single Region"; with it,
    Origin must be AWS_CLOUDHSM or EXTERNAL_KEY_STORE."""
    if params.get("CustomKeyStoreId") is None:
        # CreateKey: "To create a KMS key in a custom key store, ... specify the CustomKeyStoreId".
        raise ValidationError(f"Origin {origin} requires a CustomKeyStoreId.")
    if origin not in _CUSTOM_KEY_STORE_ORIGINS:
        raise ValidationError(f"CustomKeyStoreId requires Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE, not {origin}.")
    if KEY_SPECS[key_spec] is not default_key_spec():
        raise unsupported(f"KeySpec {key_spec} is not supported for KMS keys in a custom key store.")
    if params.get("MultiRegion"):
        raise unsupported("Multi-Region keys cannot be created in a custom key store.")


def new_key_id(ctx: KmsContext, multi_region: bool = False) -> str:
    """A random key id from the context's randomness, unused in the store.

    A single-Region key gets a version 4 UUID; a multi-Region key ``mrk-`` and 32 hex digits
    ("Multi-Region key identifiers"), the same id in every Region of its set.
    """
    while True:
        raw = ctx.rng.bytes(16)
        key_id = f"mrk-{raw.hex()}" if multi_region else str(uuid.UUID(bytes=raw, version=4))
        if not ctx.store.keys_with_id(key_id):
            return key_id


def resolve_create_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The key CreateKey would create, after AWS's checks of the request; nothing is written yet.

    The new key is a resource of the call: kms:TagResource for the request's Tags is checked on it.
    """
    key_spec, usage, origin = _check_key_kind(params)
    account_id = caller.principal.account_id
    policy = params.get("Policy")
    if policy is None:
        policy_text = default_key_policy(account_id)
    else:
        policy_text = str(policy)
        validate_key_policy(ctx, policy_text)
    tags = validate_tags(params.get("Tags") or [])
    if origin in _CUSTOM_KEY_STORE_ORIGINS:
        custom_key_store_for_new_key(ctx, caller, str(params["CustomKeyStoreId"]), origin)
    key = KeyRecord(
        key_id=new_key_id(ctx, multi_region=bool(params.get("MultiRegion"))),
        account_id=account_id,
        region=caller.region,
        description=str(params.get("Description") or ""),
        key_usage=usage,
        key_spec=key_spec,
        origin=origin,
        # A key for imported material has none until ImportKeyMaterial ("Importing key material").
        key_state="PendingImport" if origin == "EXTERNAL" else "Enabled",
        creation_date=ctx.clock.now(),
        policy=policy_text,
        current_material_version=1,
        multi_region=bool(params.get("MultiRegion")),
        tags=tags,
        # CreateKey makes a multi-Region key the primary key of its set; ReplicateKey adds the replicas.
        primary_region=caller.region if params.get("MultiRegion") else None,
    )
    return Resolved(params, {Target.NEW_KEY: NamedKey(key)})


def create_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key(Target.NEW_KEY)
    if params.get("Policy") is not None:
        check_lockout(ctx, caller, key, params, resolved.via_service)
    ctx.store.insert_key(key)
    if key.origin in TOKEN_ORIGINS:
        store = custom_key_store_for_new_key(ctx, caller, str(params["CustomKeyStoreId"]), key.origin)
        if key.origin == EXTERNAL_KEY_STORE:
            xks_keys.reference_external_key(ctx, key, store, str(params["XksKeyId"]))
            # Its own symmetric material in kmsd, the inner layer of AWS's double encryption.
            ctx.materials.create_first(key.key_id)
        else:
            token_keys.create_in_token(ctx, key, store)
        return {"KeyMetadata": key_metadata(ctx, key)}
    if key.origin == "EXTERNAL":
        return {"KeyMetadata": key_metadata(ctx, key)}
    ctx.materials.create_first(key.key_id, _first_material(ctx, KEY_SPECS[key.key_spec]))
    return {"KeyMetadata": key_metadata(ctx, key)}


def _first_material(ctx: KmsContext, spec: KeySpec) -> bytes | None:
    """A new key's material: a private key, HMAC key bytes, or None for the symmetric material
    :class:`~kmsd.kms.materials.KeyMaterials` generates itself."""
    if spec.mac_algorithms:
        return new_hmac_material(spec, ctx.rng)
    if spec.is_symmetric_encryption:
        return None
    return new_private_key(spec)


def describe_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    # DescribeKey is one of the operations AWS allows across accounts (with a key or alias ARN): key_of.
    key = resolved.key()
    return {"KeyMetadata": key_metadata(ctx, key)}


def list_keys(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    # Keys whose deletion window has ended are gone even if the periodic sweep has not run yet.
    purge_expired_keys(ctx)
    # ListKeys API reference: Limit "between 1 and 1000 ... defaults to 100".
    limit = limit_of(params, default=100, maximum=1000)
    marker = params.get("Marker")
    after = None if marker is None else decode_marker("keys", str(marker))
    # One extra row tells whether another page exists without a count query.
    rows = ctx.store.list_keys(caller.principal.account_id, caller.region, after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    response: dict[str, Any] = {
        "Keys": [{"KeyId": key.key_id, "KeyArn": key.arn} for key in page],
        "Truncated": more,
    }
    if more:
        response["NextMarker"] = encode_marker("keys", page[-1].key_id)
    return response


def enable_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("EnableKey", key)
    if not token_keys.remember_state(ctx, key, "Enabled"):
        ctx.store.update_key(replace(key, key_state="Enabled"))
    return {}


def disable_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("DisableKey", key)
    if not token_keys.remember_state(ctx, key, "Disabled"):
        ctx.store.update_key(replace(key, key_state="Disabled"))
    return {}


def update_key_description(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("UpdateKeyDescription", key)
    ctx.store.update_key(replace(key, description=str(params["Description"])))
    return {}
