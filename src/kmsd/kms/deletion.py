"""ScheduleKeyDeletion and CancelKeyDeletion: the waiting period before a key is deleted.

"Deleting AWS KMS keys" (KMS Developer Guide): a key is never deleted at
once; it enters ``PendingDeletion`` for a waiting period of 7 to 30 days
(default 30), during which it cannot be used and CancelKeyDeletion returns it
to ``Disabled`` (not to its earlier state).  The deletion itself happens when
the period ends (``kmsd.kms.expiry``).  A multi-Region primary key that still
has replicas waits in ``PendingReplicaDeletion`` instead, with no deletion
date, until the last replica is deleted ("Deleting multi-Region keys"); a
replica is deleted on its own, like any key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from kmsd.authz.permissions import Target
from kmsd.errors import ValidationError, constraint_violation
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.replicas import replicas_of
from kmsd.kms.resolve import Resolved, find_own_key
from kmsd.kms.token_keys import state_after_cancel

MIN_WAITING_PERIOD_DAYS = 7
MAX_WAITING_PERIOD_DAYS = 30
DEFAULT_WAITING_PERIOD_DAYS = 30


def _waiting_period(params: Mapping[str, Any]) -> int:
    value = params.get("PendingWindowInDays")
    days = DEFAULT_WAITING_PERIOD_DAYS if value is None else int(value)
    # ScheduleKeyDeletion: "If you include a value, it must be between 7 and 30, inclusive."
    if days < MIN_WAITING_PERIOD_DAYS:
        bound = f"Member must have value greater than or equal to {MIN_WAITING_PERIOD_DAYS}"
        raise ValidationError([constraint_violation(days, "pendingWindowInDays", bound)])
    if days > MAX_WAITING_PERIOD_DAYS:
        bound = f"Member must have value less than or equal to {MAX_WAITING_PERIOD_DAYS}"
        raise ValidationError([constraint_violation(days, "pendingWindowInDays", bound)])
    return days


def resolve_schedule_key_deletion(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    # The waiting period is checked before the key is looked up.
    _waiting_period(params)
    return Resolved(params, {Target.KEY: find_own_key(ctx, caller, str(params["KeyId"]))})


def schedule_key_deletion(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    days = _waiting_period(params)
    key = resolved.key()
    require_state("ScheduleKeyDeletion", key)
    if key.multi_region and not key.is_replica and replicas_of(ctx, key):
        # "When the primary key in a multi-Region key is scheduled for deletion, its waiting period doesn't begin
        # until all of its replica keys are deleted" (KeyMetadata, PendingDeletionWindowInDays): no date yet, and
        # the response leaves DeletionDate out (ScheduleKeyDeletion API reference).  expiry.purge_key starts it.
        ctx.store.update_key(
            replace(key, key_state="PendingReplicaDeletion", deletion_date=None, pending_deletion_window_days=days)
        )
        return {"KeyId": key.arn, "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": days}
    deletion_date = ctx.clock.now() + timedelta(days=days)
    ctx.store.update_key(
        replace(key, key_state="PendingDeletion", deletion_date=deletion_date, pending_deletion_window_days=days)
    )
    # The response's KeyId is the key ARN (ScheduleKeyDeletion API reference).
    return {
        "KeyId": key.arn,
        "DeletionDate": deletion_date,
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }


def cancel_key_deletion(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("CancelKeyDeletion", key)
    # "When you cancel key deletion, the key state ... is Disabled" (Deleting AWS KMS keys); a key whose
    # imported material was deleted meanwhile waits for it again.
    has_material = ctx.store.get_key_material(key.key_id, key.current_material_version) is not None
    state = "Disabled" if has_material or key.origin != "EXTERNAL" else "PendingImport"
    # A key of a disconnected custom key store is Unavailable until the store is connected again.
    state = state_after_cancel(ctx, key, state)
    ctx.store.update_key(replace(key, key_state=state, deletion_date=None, pending_deletion_window_days=None))
    return {"KeyId": key.arn}
