"""Key material rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
ListKeyRotations, and the automatic rotations that ``KmsService.sweep()`` performs when they fall due.

AWS's rules ("Rotate AWS KMS keys", KMS Developer Guide): automatic rotation
runs every ``RotationPeriodInDays`` (90-2560, default 365) from the day it is
enabled; a disabled key or one pending deletion is not rotated, and an overdue
rotation happens once the key is enabled again; on-demand rotations (at most
25 per key, a quota that cannot be raised) do not move the automatic schedule.
Rotation only adds key material: ciphertexts name the material version they
were made with, so everything encrypted earlier still decrypts.  A symmetric
key of imported material (origin EXTERNAL) rotates on demand only, to the
material imported for it with ImportType NEW_KEY_MATERIAL
(:mod:`kmsd.kms.imports`; a multi-Region set once every replica has it,
:mod:`kmsd.kms.multi_region_imports`); ListKeyRotations lists its materials with their
import fields.  Automatic rotation stays refused for it, as AWS refuses it:
"<key ARN> origin is EXTERNAL which is not valid for this operation."
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from kmsd.crypto.key_spec import key_spec
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.imports import EXTERNAL, rotate_to_pending_material, rotation_entries
from kmsd.kms.key_states import require_state
from kmsd.kms.paging import paginate
from kmsd.kms.replicas import refuse_replica_rotation, sync_replicas
from kmsd.kms.resolve import Resolved
from kmsd.store.models import KeyRecord

DEFAULT_ROTATION_PERIOD_DAYS = 365
MIN_ROTATION_PERIOD_DAYS = 90
MAX_ROTATION_PERIOD_DAYS = 2560
MAX_ON_DEMAND_ROTATIONS = 25  # "Resource quotas: On-demand rotations per KMS key", not adjustable
AUTOMATIC = "AUTOMATIC"
ON_DEMAND = "ON_DEMAND"


def _require_rotatable(key: KeyRecord, *, imported_too: bool = False) -> None:
    # "Rotate AWS KMS keys": only symmetric encryption keys rotate; automatic rotation only with AWS_KMS key
    # material, on-demand rotation (and so ListKeyRotations) with imported material too ("Rotate imported key
    # material on demand").
    if key.origin != "AWS_KMS" and not (imported_too and key.origin == EXTERNAL):
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} origin is {key.origin} which is not valid for this operation.",
        )
    if not key_spec(key.key_spec).rotatable:
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} key spec is {key.key_spec} which is not valid for this operation.",
        )


def enable_key_rotation(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("EnableKeyRotation", key)
    _require_rotatable(key)
    refuse_replica_rotation(key)
    requested = params.get("RotationPeriodInDays")
    period = DEFAULT_ROTATION_PERIOD_DAYS if requested is None else int(requested)
    if not MIN_ROTATION_PERIOD_DAYS <= period <= MAX_ROTATION_PERIOD_DAYS:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to satisfy "
            f"constraint: Member must have value between {MIN_ROTATION_PERIOD_DAYS} "
            f"and {MAX_ROTATION_PERIOD_DAYS}",
        )
    if key.rotation_enabled and key.next_rotation_date is not None and key.rotation_period_days is not None:
        # A new period counts from the start of the current one, not from today.
        period_start = key.next_rotation_date - timedelta(days=key.rotation_period_days)
    else:
        period_start = ctx.clock.now()
    enabled = replace(
        key,
        rotation_enabled=True,
        rotation_period_days=period,
        next_rotation_date=period_start + timedelta(days=period),
    )
    ctx.store.update_key(enabled)
    sync_replicas(ctx, enabled)
    return {}


def disable_key_rotation(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("DisableKeyRotation", key)
    _require_rotatable(key)
    refuse_replica_rotation(key)
    disabled = replace(key, rotation_enabled=False, next_rotation_date=None)
    ctx.store.update_key(disabled)
    sync_replicas(ctx, disabled)
    return {}


def get_key_rotation_status(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    # GetKeyRotationStatus is allowed across accounts with a key ARN.
    key = resolved.key()
    require_state("GetKeyRotationStatus", key)
    _require_rotatable(key)
    status: dict[str, Any] = {"KeyId": key.key_id, "KeyRotationEnabled": key.rotation_enabled}
    if key.rotation_enabled:
        status["RotationPeriodInDays"] = key.rotation_period_days
        status["NextRotationDate"] = key.next_rotation_date
    # OnDemandRotationStartDate is only present while an on-demand rotation is in progress;
    # kmsd's rotations complete within the request, so it never is.
    return status


def rotate_key_on_demand(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("RotateKeyOnDemand", key)
    _require_rotatable(key, imported_too=True)
    refuse_replica_rotation(key)
    if key.origin == EXTERNAL:
        # A multi-Region set rotates together: its replicas hold the new material already (checked above).
        sync_replicas(ctx, rotate_to_pending_material(ctx, key, MAX_ON_DEMAND_ROTATIONS))
        return {"KeyId": key.arn}
    done = sum(1 for material in ctx.store.list_key_materials(key.key_id) if material.rotation_type == ON_DEMAND)
    if done >= MAX_ON_DEMAND_ROTATIONS:
        raise AwsError(
            "LimitExceededException",
            f"The quota of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations for {key.arn} has been reached.",
        )
    _rotate(ctx, key, ON_DEMAND)
    # The response's KeyId is the key ARN (RotateKeyOnDemand API reference, like ScheduleKeyDeletion's).
    return {"KeyId": key.arn}


def _rotate(ctx: KmsContext, key: KeyRecord, rotation_type: str) -> KeyRecord:
    material = ctx.materials.rotate(key, rotation_type)
    rotated = replace(key, current_material_version=material.version)
    ctx.store.update_key(rotated)
    # The replicas of a multi-Region key encrypt with the new material too ("Rotating multi-Region keys").
    sync_replicas(ctx, rotated)
    return rotated


def list_key_rotations(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("ListKeyRotations", key)
    _require_rotatable(key, imported_too=True)
    all_material = params.get("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
    if key.origin == EXTERNAL:
        imported = rotation_entries(ctx, key, all_material)
        page_of = paginate(imported, lambda entry: f"{entry[0]:010d}", f"rotations:{key.key_id}", params)
        return {"Rotations": [entry for _, entry in page_of.items], **page_of.response_members()}
    materials = ctx.store.list_key_materials(key.key_id)
    if not all_material:
        # ROTATIONS_ONLY (the default) leaves out the key's original material, which no rotation made.
        materials = [material for material in materials if material.rotation_type is not None]
    page = paginate(materials, lambda material: f"{material.version:010d}", f"rotations:{key.key_id}", params)
    entries = []
    for material in page.items:
        entry: dict[str, Any] = {
            "KeyId": key.key_id,
            "KeyMaterialId": material.material_id,
            "KeyMaterialState": "CURRENT" if material.version == key.current_material_version else "NON_CURRENT",
        }
        if material.rotation_type is not None:
            entry["RotationDate"] = material.created_at
            entry["RotationType"] = material.rotation_type
        entries.append(entry)
    return {"Rotations": entries, **page.response_members()}


def rotate_due_keys(ctx: KmsContext) -> int:
    """Perform every automatic rotation that has fallen due; returns how many keys were rotated."""
    now = ctx.clock.now()
    rotated = 0
    for candidate in ctx.store.keys_due_for_rotation(now):
        with ctx.store.transaction():
            # Re-read inside the transaction: another node may have rotated or changed the key meanwhile.
            key = ctx.store.get_key(candidate.key_id, candidate.region)
            if key is None or not key.rotation_enabled or key.key_state != "Enabled" or key.is_replica:
                # A disabled key, or one pending deletion, keeps its overdue date and rotates once enabled; a
                # replica rotates with its primary.
                continue
            due, period = key.next_rotation_date, key.rotation_period_days
            if due is None or period is None or due > now:
                continue
            after = replace(_rotate(ctx, key, AUTOMATIC), next_rotation_date=_next_after(due, period, now))
            ctx.store.update_key(after)
            sync_replicas(ctx, after)
            rotated += 1
    return rotated


def _next_after(due: datetime, period_days: int, now: datetime) -> datetime:
    """One period after the rotation just done, or one period from now if that date has passed too."""
    following = due + timedelta(days=period_days)
    return following if following > now else now + timedelta(days=period_days)
