"""An audit event as built from one call, and the sink that keeps events.

An :class:`AuditEvent` belongs to one account's trail (``account_id``, the
record's ``recipientAccountId``): a cross-account call makes two events, one
per account, each with its own ``eventID`` and both with the same
``sharedEventID`` in the record, as CloudTrail does ("CloudTrail record
contents", ``sharedEventID``).  ``record`` is the
CloudTrail record itself, JSON-ready, with every plaintext, data key, private
key, secret access key and session token already removed; the other fields are
the record's own values that LookupEvents and ``kmsd audit query`` filter on,
pulled out so that a store can index them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class EventResource:
    """One of the record's ``resources``: LookupEvents' ResourceType and ResourceName."""

    type: str  # e.g. "AWS::KMS::Key"
    name: str  # the ARN (CloudTrail's ResourceName for a KMS key is its ARN)


@dataclass(frozen=True)
class AuditEvent:
    account_id: str  # the trail it belongs to (recipientAccountId)
    event_id: str  # eventID, a UUID, unique to this event (a cross-account call's copies share sharedEventID)
    event_time: datetime  # eventTime, UTC
    event_source: str  # "kms.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com", ...
    event_name: str  # the operation, e.g. "Encrypt"
    read_only: bool  # readOnly
    username: str | None  # LookupEvents' Username: the user's name, the role session's name, "root"
    access_key_id: str | None  # userIdentity.accessKeyId
    principal_arn: str | None  # userIdentity.arn
    error_code: str | None  # errorCode, None for a call that succeeded
    resources: tuple[EventResource, ...]
    record: dict[str, Any]  # the whole CloudTrail record, secrets removed


class AuditSink(Protocol):
    def record(self, events: Sequence[AuditEvent], *, durable: bool) -> None:
        """Keep ``events``.  ``durable``: they are stored before this returns (a mutating call's events,
        written from the thread that ran the call, before its answer); otherwise they may be queued."""
