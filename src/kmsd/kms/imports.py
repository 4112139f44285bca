"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial,
DeleteImportedKeyMaterial, and the expiry of material whose ValidTo has passed.

AWS's workflow ("Importing key material", KMS Developer Guide): CreateKey with
Origin EXTERNAL makes a key in state ``PendingImport`` with no material;
GetParametersForImport hands out an RSA public key and an import token valid
for 24 hours; the caller wraps 256 bits of its own material with that public
key and ImportKeyMaterial unwraps it, and the key becomes ``Enabled``.  Once
material has been imported, only that same material may be imported again
(IncorrectKeyMaterialException otherwise): kmsd keeps a SHA-256 digest of it,
wrapped under the root key, together with its KeyMaterialId, which survives
deletion.  A re-import therefore brings back the same generation with the
same id, and ciphertexts made before a deletion decrypt again.

Deleting the material (DeleteImportedKeyMaterial, or expiry: in
``KmsService.sweep()``, or when a call meets it first) removes and scrubs its rows as a key purge does and
counts a purge, so every process drops its unwrapped copy; the key is
``PendingImport`` again (or stays ``PendingDeletion``).

Only symmetric encryption keys are importable here, and only with
``ImportType`` ``EXISTING_KEY_MATERIAL`` semantics after the first import:
importing *new* material for on-demand rotation is not built yet and answers
UnsupportedOperationException.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from kmsd.crypto import CryptoError, new_material_id
from kmsd.crypto.key_import import (
    WRAPPING_ALGORITHMS,
    WRAPPING_KEY_BITS,
    new_import_parameters,
    open_import_token,
)
from kmsd.errors import AwsError, ValidationError
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.resolve import Resolved
from kmsd.store.models import ImportedMaterialRecord, KeyRecord

EXTERNAL = "EXTERNAL"
KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"
# "The import token and public key ... are valid for 24 hours" (GetParametersForImport API reference).
IMPORT_PARAMETERS_LIFETIME = timedelta(hours=24)
# ValidTo: "The maximum value is 365 days from the request date."
MAX_VALID_TO = timedelta(days=365)
SYMMETRIC_MATERIAL_BYTES = 32  # "Requirements for imported key material": 256 bits for SYMMETRIC_DEFAULT
# Imported material is always generation 1: without NEW_KEY_MATERIAL, a key has one material.
_IMPORTED_VERSION = 1
_DIGEST_BYTES = 32

_INVALID_TOKEN = AwsError(
    "InvalidImportTokenException",
    "The request was rejected because the provided import token is invalid or is associated with a different KMS key.",
)
_EXPIRED_TOKEN = AwsError(
    "ExpiredImportTokenException",
    "The request was rejected because the specified import token is expired. Use GetParametersForImport to get "
    "a new import token and public key, use the new public key to encrypt the key material, and then try the "
    "request again.",
)
_INCORRECT_MATERIAL = AwsError(
    "IncorrectKeyMaterialException",
    "The request was rejected because the key material in the request is, expired, invalid, or does not meet "
    "expectations. For example, it is not the same key material that was previously imported or KMS expected "
    "new key material but the key material being imported is already associated with the KMS key.",
)


def _require_external(key: KeyRecord) -> None:
    if key.origin != EXTERNAL:
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} origin is {key.origin} which is not valid for this operation.",
        )


def _digest_purpose(key_id: str) -> bytes:
    return f"kmsd/imported-material-digest/{key_id}".encode()


def get_parameters_for_import(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    _require_external(key)
    require_state("GetParametersForImport", key)
    algorithm, key_spec = str(params["WrappingAlgorithm"]), str(params["WrappingKeySpec"])
    if algorithm not in WRAPPING_ALGORITHMS:
        # RSAES_PKCS1_V1_5: "As of October 10, 2023, KMS does not support" it; SM2PKE: China Regions only.
        raise AwsError("UnsupportedOperationException", f"{algorithm} is not supported as a wrapping algorithm.")
    if key_spec not in WRAPPING_KEY_BITS:
        raise AwsError("UnsupportedOperationException", f"{key_spec} is not supported as a wrapping key spec.")
    valid_to = ctx.clock.now() + IMPORT_PARAMETERS_LIFETIME
    parameters = new_import_parameters(ctx.root_key, key.key_id, algorithm, key_spec, valid_to)
    # The response's KeyId is the key ARN (GetParametersForImport API reference, example).
    return {
        "KeyId": key.arn,
        "ImportToken": parameters.import_token,
        "PublicKey": parameters.public_key,
        "ParametersValidTo": parameters.valid_to,
    }


def _expiration(ctx: KmsContext, params: Mapping[str, Any]) -> tuple[str, datetime | None]:
    """The request's (ExpirationModel, ValidTo) after AWS's rules: ValidTo with KEY_MATERIAL_EXPIRES only,
    in the future and at most 365 days away.  ExpirationModel defaults to KEY_MATERIAL_EXPIRES."""
    model = str(params.get("ExpirationModel") or KEY_MATERIAL_EXPIRES)
    valid_to = params.get("ValidTo")
    if model == KEY_MATERIAL_DOES_NOT_EXPIRE:
        if valid_to is not None:
            raise ValidationError("ValidTo must not be specified when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
        return model, None
    if not isinstance(valid_to, datetime):
        raise ValidationError("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.")
    now = ctx.clock.now()
    if valid_to <= now:
        raise ValidationError("ValidTo must be a future date and time.")
    if valid_to > now + MAX_VALID_TO:
        raise ValidationError("ValidTo must be at most 365 days from the request date.")
    return model, valid_to


def import_key_material(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    _require_external(key)
    require_state("ImportKeyMaterial", key)
    model, valid_to = _expiration(ctx, params)
    import_type = params.get("ImportType")
    ever_imported = ctx.store.get_imported_material(key.key_id) is not None
    if import_type == NEW_KEY_MATERIAL and ever_imported:
        raise AwsError(
            "UnsupportedOperationException",
            "Importing new key material for on-demand rotation is not supported by kmsd.",
        )
    if import_type == EXISTING_KEY_MATERIAL and not ever_imported:
        # Nothing was ever imported, so no material can be the existing one.
        raise _INCORRECT_MATERIAL
    try:
        token = open_import_token(ctx.root_key, key.key_id, bytes(params["ImportToken"]))
    except CryptoError:
        raise _INVALID_TOKEN from None
    if token.valid_to <= ctx.clock.now():
        raise _EXPIRED_TOKEN
    try:
        material = token.unwrap(bytes(params["EncryptedKeyMaterial"]))
    except CryptoError:
        # Wrapped for another public key or with another algorithm: no reason is given, as for any ciphertext.
        raise AwsError("InvalidCiphertextException", "") from None
    if len(material) != SYMMETRIC_MATERIAL_BYTES:
        raise _INCORRECT_MATERIAL
    material_id = _check_or_commit(ctx, key, material, model, valid_to)
    if ctx.store.get_key_material(key.key_id, _IMPORTED_VERSION) is None:
        ctx.materials.add_imported(key.key_id, _IMPORTED_VERSION, material_id, material)
    state = "Enabled" if key.key_state == "PendingImport" else key.key_state
    ctx.store.update_key(replace(key, key_state=state, current_material_version=_IMPORTED_VERSION))
    return {"KeyId": key.arn, "KeyMaterialId": material_id}


def _check_or_commit(ctx: KmsContext, key: KeyRecord, material: bytes, model: str, valid_to: datetime | None) -> str:
    """The KeyMaterialId of ``material`` for ``key``: the first import's, when it is that same material
    (IncorrectKeyMaterialException otherwise), or a new one recorded with the material's digest.  The
    record then carries this import's expiration."""
    digest = hashlib.sha256(material).digest()
    record = ctx.store.get_imported_material(key.key_id)
    if record is not None:
        try:
            committed = ctx.root_key.unwrap(record.wrapped_digest, _digest_purpose(key.key_id))
        except CryptoError:
            raise AwsError("KMSInternalException", "", 500) from None
        if not hmac.compare_digest(committed[:_DIGEST_BYTES], digest):
            raise _INCORRECT_MATERIAL
        material_id = committed[_DIGEST_BYTES:].decode("ascii")
        wrapped = record.wrapped_digest
    else:
        material_id = new_material_id(ctx.rng)
        wrapped = ctx.root_key.wrap(digest + material_id.encode("ascii"), _digest_purpose(key.key_id))
    ctx.store.put_imported_material(ImportedMaterialRecord(key.key_id, wrapped, model, valid_to))
    return material_id


def delete_imported_key_material(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    _require_external(key)
    require_state("DeleteImportedKeyMaterial", key)
    current = ctx.store.get_key_material(key.key_id, _IMPORTED_VERSION)
    requested_id = params.get("KeyMaterialId")
    if requested_id is not None and (current is None or current.material_id != requested_id):
        raise AwsError("NotFoundException", f"Key material '{requested_id}' does not exist for key '{key.arn}'")
    _remove_material(ctx, key)
    response: dict[str, Any] = {"KeyId": key.arn}
    if current is not None:
        response["KeyMaterialId"] = current.material_id
    return response


def _remove_material(ctx: KmsContext, key: KeyRecord) -> None:
    """Delete and scrub the key's material; the key waits for an import (or stays pending deletion)."""
    ctx.store.delete_key_materials(key.key_id)
    ctx.materials.count_purge()
    ctx.materials.forget(key.key_id)
    state = key.key_state if key.key_state == "PendingDeletion" else "PendingImport"
    ctx.store.update_key(replace(key, key_state=state))
    record = ctx.store.get_imported_material(key.key_id)
    if record is not None:
        ctx.store.put_imported_material(replace(record, expiration_model=None, valid_to=None))


def expire_material_of(ctx: KmsContext, key_id: str) -> bool:
    """Delete the key's imported material if its ValidTo has passed, in a transaction of its own; whether it did."""
    now = ctx.clock.now()
    with ctx.store.transaction():
        # Read inside the transaction: another node may have re-imported or deleted it meanwhile.
        record = ctx.store.get_imported_material(key_id)
        key = ctx.store.get_key(key_id)
        if key is None or record is None or record.valid_to is None or record.valid_to > now:
            return False
        _remove_material(ctx, key)
    # Dropped again after the commit, in case a request cached the material while the transaction ran.
    ctx.materials.forget(key_id)
    return True


def expire_imported_material(ctx: KmsContext) -> int:
    """Delete the imported material whose ValidTo has passed ("When the key material expires, KMS deletes
    the key material"); returns how many keys lost their material."""
    return sum(
        expire_material_of(ctx, record.key_id) for record in ctx.store.imported_materials_expired_by(ctx.clock.now())
    )
