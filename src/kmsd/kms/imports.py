"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial,
on-demand rotation to imported material, and the expiry of material whose ValidTo has passed.

AWS's workflow ("Create a KMS key with imported key material", KMS Developer Guide): CreateKey with Origin
EXTERNAL makes a key in state ``PendingImport`` with no material; GetParametersForImport hands out an RSA
public key and an import token valid for 24 hours; the caller wraps its own material with that public key and
ImportKeyMaterial unwraps it, checks it against the key spec (:mod:`kmsd.crypto.imported_material`: 32 bytes
for a symmetric key, raw bytes of the spec's lengths for HMAC, a PKCS#8 private key of the spec for an
asymmetric key) and the key becomes ``Enabled``.

A key keeps one record per material it was ever given (``imported_key_materials``): the material's SHA-256
and KeyMaterialId, wrapped under the root key, which outlive the material, so that a re-import
(``ImportType`` ``EXISTING_KEY_MATERIAL``, the default after the first import) is accepted only for a
material the key already has, brings back the same generation with the same id, and old ciphertexts decrypt
again.  A symmetric encryption key also takes *new* material (``NEW_KEY_MATERIAL``): it waits as
``PENDING_ROTATION`` until RotateKeyOnDemand makes it current ("Rotate imported key material on demand"); the
earlier materials stay for decrypting.  "For asymmetric and HMAC keys, you cannot change the key material
after the initial import" (ImportKeyMaterial API reference).  A key is ``Enabled`` only while every material
that is or was current is imported ("For symmetric encryption keys, you will need to import all of the key
materials associated with the KMS key to change its state to Enabled").

Deleting a material (DeleteImportedKeyMaterial, by KeyMaterialId or the current one; or expiry at its
ValidTo, in ``KmsService.sweep()`` or when a call meets it first) removes and scrubs its generation as a key
purge does and counts a purge, so every process drops its unwrapped copy; the key is ``PendingImport`` again
(or stays ``PendingDeletion``).  A material pending rotation "is not permanently associated with the KMS
key": deleting it forgets it entirely and leaves the key's state alone.

Error wordings that AWS does not document, modelled on AWS's (guessed):

- ValidationException "KeyMaterialId must not be specified when ImportType is NEW_KEY_MATERIAL.";
- ValidationException "KeyMaterialId and KeyMaterialDescription are only valid for symmetric encryption keys.";
- ValidationException for a wrapping algorithm that cannot carry the key's material
  (:func:`kmsd.crypto.imported_material.wrapping_refusal`);
- UnsupportedOperationException "<arn> key spec is <spec> which is not valid for importing new key material.";
- KMSInvalidStateException "<arn> already has key material in PENDING_ROTATION state. ..." (or in
  PENDING_MULTI_REGION_IMPORT_AND_ROTATION state) for a second NEW_KEY_MATERIAL import before the first is
  rotated in or deleted;
- UnsupportedOperationException "<arn> has no key material in PENDING_ROTATION state. ..." for
  RotateKeyOnDemand on an EXTERNAL key without new material.

In a multi-Region set new material enters through the primary key and waits until every replica has it
(:mod:`kmsd.kms.multi_region_imports`, with its own guessed wordings).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from kmsd.crypto import CryptoError, new_material_id
from kmsd.crypto.imported_material import imported_key_material, wrapping_refusal
from kmsd.crypto.key_import import (
    WRAPPING_ALGORITHMS,
    WRAPPING_KEY_BITS,
    new_import_parameters,
    open_import_token,
)
from kmsd.crypto.key_spec import key_spec
from kmsd.errors import AwsError, ValidationError
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.multi_region_imports import (
    forget_pending_in_set,
    is_set_primary,
    offer_to_replicas,
    pending_state,
    record_rotation_in_replicas,
    refuse_new_material_in_replica,
    require_imported_everywhere,
)
from kmsd.kms.resolve import Resolved
from kmsd.store.models import ImportedMaterialRecord, KeyRecord

EXTERNAL = "EXTERNAL"
KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"
# KeyMaterialState values (ListKeyRotations, RotationsListEntry).
CURRENT = "CURRENT"
NON_CURRENT = "NON_CURRENT"
PENDING_ROTATION = "PENDING_ROTATION"
# "The import token and public key ... are valid for 24 hours" (GetParametersForImport API reference).
IMPORT_PARAMETERS_LIFETIME = timedelta(hours=24)
# ValidTo: "The maximum value is 365 days from the request date."
MAX_VALID_TO = timedelta(days=365)
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


@dataclass(frozen=True)
class ImportedMaterial:
    """One material a key was given, with what its wrapped digest holds: the material's SHA-256 and its id."""

    record: ImportedMaterialRecord
    material_id: str
    digest: bytes


def require_external(key: KeyRecord) -> None:
    if key.origin != EXTERNAL:
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} origin is {key.origin} which is not valid for this operation.",
        )


def _digest_purpose(key_id: str) -> bytes:
    return f"kmsd/imported-material-digest/{key_id}".encode()


def materials_of(ctx: KmsContext, key: KeyRecord) -> list[ImportedMaterial]:
    """Every material ``key`` was given, oldest version first, with its id and digest."""
    found = []
    for record in ctx.store.list_imported_materials(key.key_id, key.region):
        try:
            opened = ctx.root_key.unwrap(record.wrapped_digest, _digest_purpose(key.key_id))
        except CryptoError:
            # Only a damaged store or another root key gives a record that does not open.
            raise AwsError("KMSInternalException", "", 500) from None
        found.append(ImportedMaterial(record, opened[_DIGEST_BYTES:].decode("ascii"), opened[:_DIGEST_BYTES]))
    return found


def material_state(key: KeyRecord, record: ImportedMaterialRecord) -> str:
    """Where one of the key's materials is in its life: newer than the current one means pending rotation.
    :func:`listed_state` names the pending state of a multi-Region set exactly."""
    if record.version == key.current_material_version:
        return CURRENT
    return PENDING_ROTATION if record.version > key.current_material_version else NON_CURRENT


def listed_state(ctx: KmsContext, key: KeyRecord, record: ImportedMaterialRecord) -> str:
    """The KeyMaterialState ListKeyRotations shows: a pending material of a multi-Region set is
    PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every key of the set has it."""
    state = material_state(key, record)
    return pending_state(ctx, key, record.version) if state == PENDING_ROTATION else state


def current_material_record(ctx: KmsContext, key: KeyRecord) -> ImportedMaterialRecord | None:
    """The record of the key's current imported material (None for a key that never had any)."""
    for record in ctx.store.list_imported_materials(key.key_id, key.region):
        if record.version == key.current_material_version:
            return record
    return None


def get_parameters_for_import(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_external(key)
    require_state("GetParametersForImport", key)
    algorithm, wrapping_spec = str(params["WrappingAlgorithm"]), str(params["WrappingKeySpec"])
    if algorithm not in WRAPPING_ALGORITHMS:
        # RSAES_PKCS1_V1_5: "As of October 10, 2023, KMS does not support" it; SM2PKE: China Regions only.
        raise AwsError("UnsupportedOperationException", f"{algorithm} is not supported as a wrapping algorithm.")
    if wrapping_spec not in WRAPPING_KEY_BITS:
        # SM2 wrapping keys exist only in China Regions, and kmsd has no SM2.
        raise AwsError("UnsupportedOperationException", f"{wrapping_spec} is not supported as a wrapping key spec.")
    refusal = wrapping_refusal(key_spec(key.key_spec), algorithm, wrapping_spec)
    if refusal is not None:
        raise ValidationError(refusal)
    valid_to = ctx.clock.now() + IMPORT_PARAMETERS_LIFETIME
    parameters = new_import_parameters(ctx.root_key, key.arn, algorithm, wrapping_spec, valid_to)
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


def _import_type(ctx: KmsContext, key: KeyRecord, params: Mapping[str, Any], known: list[ImportedMaterial]) -> str:
    """The request's ImportType after AWS's rules, checked against what the key already has."""
    symmetric = key_spec(key.key_spec).is_symmetric_encryption
    if not symmetric and (params.get("KeyMaterialId") is not None or params.get("KeyMaterialDescription") is not None):
        # ImportKeyMaterial: both are "optional and only usable with symmetric encryption keys".
        raise ValidationError("KeyMaterialId and KeyMaterialDescription are only valid for symmetric encryption keys.")
    # "If no key material has ever been imported into the KMS key, and this parameter is omitted, the parameter
    # defaults to NEW_KEY_MATERIAL. After the first key material is imported, ... EXISTING_KEY_MATERIAL."
    import_type = str(params.get("ImportType") or (EXISTING_KEY_MATERIAL if known else NEW_KEY_MATERIAL))
    if import_type == NEW_KEY_MATERIAL:
        if params.get("KeyMaterialId") is not None:
            # "You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL."
            raise ValidationError("KeyMaterialId must not be specified when ImportType is NEW_KEY_MATERIAL.")
        if known and not symmetric:
            raise AwsError(
                "UnsupportedOperationException",
                f"{key.arn} key spec is {key.key_spec} which is not valid for importing new key material.",
            )
        if known:
            refuse_new_material_in_replica(key)
        pending = next((one.record for one in known if material_state(key, one.record) == PENDING_ROTATION), None)
        if pending is not None:
            raise AwsError(
                "KMSInvalidStateException",
                f"{key.arn} already has key material in {listed_state(ctx, key, pending)} state. Rotate to it with "
                "RotateKeyOnDemand or delete it with DeleteImportedKeyMaterial before importing new key material.",
            )
    elif not known:
        # Nothing was ever imported, so no material can be the existing one.
        raise _INCORRECT_MATERIAL
    return import_type


def import_key_material(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_external(key)
    require_state("ImportKeyMaterial", key)
    model, valid_to = _expiration(ctx, params)
    known = materials_of(ctx, key)
    import_type = _import_type(ctx, key, params, known)
    try:
        token = open_import_token(ctx.root_key, key.arn, bytes(params["ImportToken"]))
    except CryptoError:
        raise _INVALID_TOKEN from None
    if token.valid_to <= ctx.clock.now():
        raise _EXPIRED_TOKEN
    try:
        unwrapped = token.unwrap(bytes(params["EncryptedKeyMaterial"]))
    except CryptoError:
        # Wrapped for another public key or with another algorithm: no reason is given, as for any ciphertext.
        raise AwsError("InvalidCiphertextException", "") from None
    spec = key_spec(key.key_spec)
    try:
        material = imported_key_material(spec, unwrapped)
    except CryptoError:
        # "The key material that you import must be compatible with the key spec of the associated KMS key."
        raise _INCORRECT_MATERIAL from None
    digest = hashlib.sha256(material).digest()
    same = next((known_one for known_one in known if hmac.compare_digest(known_one.digest, digest)), None)
    description = params.get("KeyMaterialDescription")
    if import_type == NEW_KEY_MATERIAL:
        if same is not None:
            raise _INCORRECT_MATERIAL
        material_id = new_material_id(ctx.rng)
        # The first material is the key's generation 1; new material waits as the next one.
        version = known[-1].record.version + 1 if known else key.current_material_version
        wrapped = ctx.root_key.wrap(digest + material_id.encode("ascii"), _digest_purpose(key.key_id))
        record = ImportedMaterialRecord(key.key_id, key.region, version, wrapped, True, model, valid_to, description)
    else:
        requested_id = params.get("KeyMaterialId")
        if same is None or (requested_id is not None and requested_id != same.material_id):
            raise _INCORRECT_MATERIAL
        material_id = same.material_id
        kept = same.record.description if description is None else str(description)
        record = replace(same.record, imported=True, expiration_model=model, valid_to=valid_to, description=kept)
    ctx.store.put_imported_material(record)
    if import_type == NEW_KEY_MATERIAL and known and is_set_primary(key):
        # Each replica must import the same material before the set can rotate to it.
        offer_to_replicas(ctx, key, record)
    if ctx.store.get_key_material(key.key_id, record.version) is None:
        ctx.materials.add_imported(key.key_id, record.version, material_id, material)
    if key.key_state == "PendingImport" and _all_in_use_imported(ctx, key):
        ctx.store.update_key(replace(key, key_state="Enabled"))
    response: dict[str, Any] = {"KeyId": key.arn}
    if spec.is_symmetric_encryption:
        # "Whenever you import key material into a symmetric encryption key, KMS assigns a unique identifier".
        response["KeyMaterialId"] = material_id
    return response


def _all_in_use_imported(ctx: KmsContext, key: KeyRecord) -> bool:
    """Whether every material that is or was current is imported (the pending one does not count)."""
    records = ctx.store.list_imported_materials(key.key_id, key.region)
    in_use = [record for record in records if material_state(key, record) != PENDING_ROTATION]
    return bool(in_use) and all(record.imported for record in in_use)


def delete_imported_key_material(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_external(key)
    require_state("DeleteImportedKeyMaterial", key)
    requested_id = params.get("KeyMaterialId")
    known = materials_of(ctx, key)
    if requested_id is None:
        # "If no KeyMaterialId is specified, KMS deletes the current key material."
        target = next((one for one in known if one.record.version == key.current_material_version), None)
    else:
        target = next((one for one in known if one.material_id == requested_id), None)
        if target is None or not target.record.imported:
            raise AwsError("NotFoundException", f"Key material '{requested_id}' does not exist for key '{key.arn}'")
    response: dict[str, Any] = {"KeyId": key.arn}
    if target is None:
        return response
    if target.record.imported:
        remove_material(ctx, key, target.record)
    if key_spec(key.key_spec).is_symmetric_encryption:
        response["KeyMaterialId"] = target.material_id
    return response


def remove_material(ctx: KmsContext, key: KeyRecord, record: ImportedMaterialRecord) -> KeyRecord:
    """Delete and scrub one imported material; the key waits for an import (or stays pending deletion).
    Returns the key as it is now.

    The keys of a multi-Region set share one stored copy of each material: it is deleted only when no other
    key of the set still holds that material imported; this key loses it either way.  A material pending
    rotation deleted from a set's primary key goes from every key of the set; deleted from a replica, it stays
    expected there, so that the replica can import it again.
    """
    pending = material_state(key, record) == PENDING_ROTATION
    if pending and is_set_primary(key):
        # "you'll also be deleting the key materials for the replica Region keys."
        forget_pending_in_set(ctx, key, record.version)
    elif not held_elsewhere(ctx, key, record.version):
        ctx.store.delete_key_material(key.key_id, record.version)
    ctx.materials.count_purge()
    ctx.materials.forget(key.key_id)
    if pending and key.is_replica:
        ctx.store.put_imported_material(replace(record, imported=False, expiration_model=None, valid_to=None))
        return key
    if pending:
        # "Key material in PENDING_ROTATION state is not permanently associated with the KMS key."
        ctx.store.delete_imported_material(key.key_id, key.region, record.version)
        return key
    ctx.store.put_imported_material(replace(record, imported=False, expiration_model=None, valid_to=None))
    state = key.key_state if key.key_state == "PendingDeletion" else "PendingImport"
    after = replace(key, key_state=state)
    ctx.store.update_key(after)
    return after


def held_elsewhere(ctx: KmsContext, key: KeyRecord, version: int) -> bool:
    """Whether another key of ``key``'s multi-Region set holds material ``version`` imported."""
    if not key.multi_region:
        return False
    return any(
        record.imported and record.version == version
        for other in ctx.store.keys_with_id(key.key_id)
        if other.region != key.region and other.account_id == key.account_id
        for record in ctx.store.list_imported_materials(other.key_id, other.region)
    )


def rotate_to_pending_material(ctx: KmsContext, key: KeyRecord, quota: int) -> KeyRecord:
    """RotateKeyOnDemand of a key of imported material: its PENDING_ROTATION material becomes current
    ("Rotate imported key material on demand"); the one before stays for decrypting.  Returns the key as it
    is now; the caller gives a multi-Region primary's replicas its new current material."""
    records = ctx.store.list_imported_materials(key.key_id, key.region)
    pending = next((record for record in records if material_state(key, record) == PENDING_ROTATION), None)
    if pending is None:
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} has no key material in PENDING_ROTATION state. Import new key material with ImportType "
            "NEW_KEY_MATERIAL before you rotate the key on demand.",
        )
    require_imported_everywhere(ctx, key, pending.version)
    if sum(1 for record in records if record.rotation_type == "ON_DEMAND") >= quota:
        raise AwsError(
            "LimitExceededException", f"The quota of {quota} on-demand rotations for {key.arn} has been reached."
        )
    rotated = replace(pending, rotation_type="ON_DEMAND", rotated_at=ctx.clock.now())
    ctx.store.put_imported_material(rotated)
    record_rotation_in_replicas(ctx, key, rotated)
    after = replace(key, current_material_version=pending.version)
    ctx.store.update_key(after)
    return after


def rotation_entries(ctx: KmsContext, key: KeyRecord, all_material: bool) -> list[tuple[int, dict[str, Any]]]:
    """ListKeyRotations' entries for a key of imported material, by version: the materials rotations made
    current, and with ``all_material`` (ALL_KEY_MATERIAL) also the first one and the one pending rotation."""
    entries = []
    for material in materials_of(ctx, key):
        record = material.record
        if record.rotation_type is None and not all_material:
            continue
        entry: dict[str, Any] = {
            "KeyId": key.key_id,
            "KeyMaterialId": material.material_id,
            "ImportState": "IMPORTED" if record.imported else "PENDING_IMPORT",
            "KeyMaterialState": listed_state(ctx, key, record),
        }
        if record.description is not None:
            entry["KeyMaterialDescription"] = record.description
        if record.expiration_model is not None:
            entry["ExpirationModel"] = record.expiration_model
            if record.valid_to is not None:
                entry["ValidTo"] = record.valid_to
        if record.rotation_type is not None:
            entry["RotationDate"] = record.rotated_at
            entry["RotationType"] = record.rotation_type
        entries.append((record.version, entry))
    return entries


def expire_material_of(ctx: KmsContext, key: KeyRecord) -> bool:
    """Delete the key's imported materials whose ValidTo has passed, in a transaction of its own; whether any."""
    now = ctx.clock.now()
    with ctx.store.transaction():
        # Read inside the transaction: another node may have re-imported or deleted it meanwhile.
        current = ctx.store.get_key(key.key_id, key.region)
        if current is None:
            return False
        expired = [
            record
            for record in ctx.store.list_imported_materials(current.key_id, current.region)
            if record.imported and record.valid_to is not None and record.valid_to <= now
        ]
        for record in expired:
            current = remove_material(ctx, current, record)
    # Dropped again after the commit, in case a request cached the material while the transaction ran.
    ctx.materials.forget(key.key_id)
    return bool(expired)


def expire_imported_material(ctx: KmsContext) -> int:
    """Delete the imported material whose ValidTo has passed ("When the key material expires, KMS deletes
    the key material"); returns how many keys lost material."""
    expired = 0
    for record in ctx.store.imported_materials_expired_by(ctx.clock.now()):
        key = ctx.store.get_key(record.key_id, record.region)
        if key is not None and expire_material_of(ctx, key):
            expired += 1
    return expired
