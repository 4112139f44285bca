"""The last successful cryptographic use of each key: recorded cheaply, and answered by GetKeyLastUsage.

Every successful call of the operations AWS tracks (botocore's
``KeyLastUsageTrackingOperation``) notes each key it used -- both keys of
ReEncrypt.  A store write on every Encrypt would cost more than the Encrypt,
so each key's use is written at most once per ``KEY_USE_RECORD_INTERVAL``
(like access keys' last use, :mod:`kmsd.iam.access_key_use`): the recorded
Timestamp may be up to that interval older than the key's latest use.  The
write runs wherever the owner says (``submit``); the API hands in its
store-call thread, so the event loop never waits for the store's writer.  A
failed write is logged (without any request content) and never fails the
call that used the key.

GetKeyLastUsage answers ``KeyLastUsage`` with the Operation, Timestamp and
KmsRequestId of that use, or an empty object when none is recorded since
``TrackingStartDate`` (the key's creation, or when kmsd began tracking if
the key is older).  kmsd has no CloudTrail, so CloudTrailEventId is absent.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.resolve import Resolved
from kmsd.store.base import Store, StoreError

log = logging.getLogger("kmsd.kms")

KEY_USE_RECORD_INTERVAL = timedelta(minutes=1)
# Keys remembered between writes; beyond this the memory starts over (a few extra writes, never a lost one).
_KEY_USE_MEMORY = 10_000

# botocore's KeyLastUsageTrackingOperation: the operations whose successful calls are a key's use.
TRACKED_OPERATIONS = frozenset(
    {
        "Decrypt",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
        "Encapsulate",
        "Decapsulate",
    }
)

Submit = Callable[[Callable[[], None]], object]


def _run_now(task: Callable[[], None]) -> None:
    task()


class KeyUsageRecorder:
    """Notes each key a successful cryptographic call used, and writes it to the store at most once a minute."""

    def __init__(self, store: Store, submit: Submit = _run_now) -> None:
        self.store = store
        self.submit: Submit = submit
        self._recorded: dict[tuple[str, str], datetime] = {}

    def note(self, operation: str, keys: Iterable[tuple[str, str]], request_id: str, now: datetime) -> None:
        """Record the use of each of ``keys`` (key id, Region) by ``operation`` (through ``submit``) when a
        record is due."""
        for key in keys:
            last = self._recorded.get(key)
            # A clock that went back (last in the future) records again rather than waiting for it.
            if last is not None and timedelta(0) <= now - last < KEY_USE_RECORD_INTERVAL:
                continue
            if len(self._recorded) >= _KEY_USE_MEMORY:
                self._recorded.clear()
            self._recorded[key] = now
            self.submit(functools.partial(self._record, key, operation, now, request_id))

    def _record(self, key: tuple[str, str], operation: str, now: datetime, request_id: str) -> None:
        key_id, region = key
        try:
            self.store.record_key_use(key_id, region, operation, now, request_id)
        except StoreError:
            # Bookkeeping only: the call that used the key has been answered.
            log.warning("could not record the use of key %s", key_id, exc_info=True)


def get_key_last_usage(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    # GetKeyLastUsage lists no KMSInvalidStateException: it answers for a key in any state.
    key = resolved.key()
    record = ctx.store.get_key_last_usage(key.key_id, key.region)
    tracking_start = key.creation_date
    usage: dict[str, Any] = {}
    if record is not None:
        if record.tracking_started_at is not None and record.tracking_started_at > tracking_start:
            tracking_start = record.tracking_started_at
        if record.operation is not None and record.used_at is not None:
            usage = {"Operation": record.operation, "Timestamp": record.used_at}
            if record.request_id:
                usage["KmsRequestId"] = record.request_id
    return {
        "KeyId": key.key_id,
        "KeyLastUsage": usage,
        "TrackingStartDate": tracking_start,
        "KeyCreationDate": key.creation_date,
    }
