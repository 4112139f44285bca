"""The end of a key's life: a key whose deletion window has passed is removed with everything it owns.

AWS deletes a KMS key when its waiting period ends ("Deleting AWS KMS keys",
KMS Developer Guide); from then on every reference to it is NotFoundException.
kmsd removes such keys in two places that share :func:`purge_key`: the
periodic ``KmsService.sweep()`` and, lazily, a call whose resolution meets
such a key (:class:`KeyDeleted`), so a request arriving between two sweeps
cannot use a key that should already be gone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from kmsd.errors import AwsError
from kmsd.kms.context import KmsContext
from kmsd.kms.token_keys import TOKEN_ORIGINS, destroy_object, forget_key
from kmsd.store.models import KeyRecord


class KeyDeleted(AwsError):
    """The answer for a key whose deletion window has ended (NotFoundException naming it, or ``error``).

    Resolving a call writes nothing, so it raises this instead of deleting the
    key; the service catches it, purges the key in a transaction of its own
    (after rolling back the call's, for a write operation) and answers with
    the error.  A ciphertext that names such a key is ``error`` =
    InvalidCiphertextException, which says nothing about why.
    """

    def __init__(self, key: KeyRecord, error: AwsError | None = None) -> None:
        if error is None:
            super().__init__("NotFoundException", f"Key '{key.arn}' does not exist")
        else:
            super().__init__(error.code, error.message, error.status)
        self.key = key


class MaterialExpired(Exception):
    """A call met a key whose imported material's ValidTo has passed, before the periodic sweep deleted it.

    Resolving writes nothing, so it raises this; the service deletes the material in a transaction of its
    own (:func:`kmsd.kms.imports.expire_material_of`) and runs the call again, which then sees the key
    ``PendingImport``.  So material is unusable from its ValidTo on, whenever the sweep runs.
    """

    def __init__(self, key: KeyRecord) -> None:
        super().__init__(key.key_id)
        self.key = key


def refuse_if_material_expired(ctx: KmsContext, key: KeyRecord) -> None:
    """:class:`MaterialExpired` when ``key`` holds imported material whose ValidTo has passed."""
    # Only a key of imported material that holds some can lose it: the others need no read.
    if key.origin != "EXTERNAL" or key.key_state == "PendingImport":
        return
    now = ctx.clock.now()
    for record in ctx.store.list_imported_materials(key.key_id, key.region):
        if record.imported and record.valid_to is not None and record.valid_to <= now:
            raise MaterialExpired(key)


def deletion_window_ended(key: KeyRecord, now: datetime) -> bool:
    return key.key_state == "PendingDeletion" and key.deletion_date is not None and key.deletion_date <= now


def purge_key(ctx: KmsContext, key: KeyRecord) -> bool:
    """Delete the key, its material (and imported materials' records), aliases and tags, then drop its
    unwrapped material from memory; a key in a custom key store also loses its token object
    (:func:`kmsd.kms.token_keys.destroy_object`).  Returns whether it purged the key.

    ``key`` is what the caller read before this transaction; the key is read again inside it and purged
    only if its deletion window has still ended, because another process or node sharing the store may
    have purged it already or cancelled its deletion in the meantime (CancelKeyDeletion).

    The store overwrites the deleted rows and empties its journal after the commit (see
    :mod:`kmsd.store.sqlite.store`), and the purge is counted so that other processes drop their
    cached copies too (:meth:`~kmsd.kms.materials.KeyMaterials.drop_if_purged_elsewhere`).
    """
    with ctx.store.transaction():
        current = ctx.store.get_key(key.key_id, key.region)
        if current is None or not deletion_window_ended(current, ctx.clock.now()):
            return False
        key = current
        # The token object of a key in a custom key store goes too, once the purge has committed.
        token_key = forget_key(ctx, key) if key.origin in TOKEN_ORIGINS else None
        ctx.store.delete_key(key.key_id, key.region)
        # Imported materials' records name their key without a foreign key: they go here, with it.
        ctx.store.delete_imported_materials(key.key_id, key.region)
        ctx.materials.count_purge()
        if key.multi_region:
            _start_primary_waiting_period(ctx, key)
    ctx.materials.forget(key.key_id)
    if token_key is not None:
        destroy_object(ctx, token_key)
    return True


def _start_primary_waiting_period(ctx: KmsContext, deleted: KeyRecord) -> None:
    """The last replica of a primary key pending replica deletion is gone: its own waiting period begins.

    "When the last replica key in the multi-Region key is deleted, the KeyState of the scheduled primary key
    changes from PendingReplicaDeletion to PendingDeletion and the deletion date appears" (KeyMetadata,
    PendingDeletionWindowInDays).  The period counts from the replica's deletion date, whenever the sweep ran.
    """
    remaining = [key for key in ctx.store.keys_with_id(deleted.key_id) if key.account_id == deleted.account_id]
    if len(remaining) != 1 or remaining[0].key_state != "PendingReplicaDeletion":
        return
    primary = remaining[0]
    start = deleted.deletion_date or ctx.clock.now()
    days = primary.pending_deletion_window_days or 30  # always set by ScheduleKeyDeletion; 30 is AWS's default
    ctx.store.update_key(replace(primary, key_state="PendingDeletion", deletion_date=start + timedelta(days=days)))


def purge_expired_keys(ctx: KmsContext) -> int:
    """Delete every key whose deletion window has ended; returns how many."""
    expired = ctx.store.keys_pending_deletion_before(ctx.clock.now())
    return sum(purge_key(ctx, key) for key in expired)
