"""The audit trail's records as the store reads and writes them (:mod:`kmsd.store.sql.audit_events`).

Kept apart from :mod:`kmsd.store.models`, whose records are each one row of one table with a row codec: a stored
event spans two tables (its resources have their own, to be indexed), and a query is no row at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditEventRow:
    """One stored audit event: an event of one account's trail at its place in the hash chain.

    ``record`` is the CloudTrail record as canonical JSON text (hashed as it is); the other fields are the
    record's values that lookups filter on.  ``hash`` seals the fields and ``previous_hash`` (kmsd.audit.chain).
    """

    sequence: int  # the position in the chain, from 1, in the order events were written
    account_id: str
    event_id: str
    event_time: datetime
    event_source: str
    event_name: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    principal_arn: str | None
    error_code: str | None
    resources: tuple[tuple[str, str], ...]  # (type, name)
    record: str
    previous_hash: str
    hash: str


@dataclass(frozen=True)
class AuditChainState:
    """The hash chain's sealed head and the boundary retention pruned it to (sequence 0 and the genesis hash
    when nothing was pruned)."""

    head_sequence: int
    head_hash: str
    head_seal: str
    pruned_sequence: int
    pruned_hash: str
    pruned_seal: str


@dataclass(frozen=True)
class AuditEventQuery:
    """Which events a lookup wants; every field set narrows it (all of them together)."""

    account_id: str | None = None  # None: every account's (kmsd audit query without --account)
    start: datetime | None = None  # at or after
    end: datetime | None = None  # at or before
    event_id: str | None = None
    event_name: str | None = None
    event_source: str | None = None
    read_only: bool | None = None
    username: str | None = None
    access_key_id: str | None = None
    principal_arn: str | None = None
    error_code: str | None = None
    errors_only: bool = False  # any error code
    resource_type: str | None = None
    resource_name: str | None = None
    resource_key_id: str | None = None  # a KMS key's resource, by its id (the ARN's last part)
    # Paging, newest first: only events strictly older than this (event_time, sequence).
    before: tuple[datetime, int] | None = None
