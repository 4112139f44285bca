"""The hash chain over the stored audit events: sealing events as they are appended, pruning, verifying.

Every stored event carries its position (``sequence``), the hash of the event before it and its own hash::

    hash = HMAC-SHA256(K, "kmsd-audit-event-v1" || previous_hash || fields || record)

where ``fields`` is a fixed JSON encoding of every other stored field (account, event id, time, source, name,
read-only flag, user name, access key, principal, error code, resources), ``record`` is the record's own
stored JSON text, and ``K`` is a key derived from the root key (:meth:`kmsd.crypto.RootKey.audit_chain_key`).
The chain's head (the newest event's sequence and hash) and the boundary retention pruned it to are sealed with
the same key in ``audit_chain``.  Appending happens in one store transaction that reads the head and writes
the events and the new head together; every writer of the service -- threads, ``--workers`` processes,
nodes on PostgreSQL -- takes the store's writer lock for it, so there is one chain however many write.

What verification proves (docs/architecture.md, "The audit trail's hash chain"): without the root key, no
stored event can be changed, removed, reordered or added in the middle of the chain, and the newest events
cannot be cut off, without :func:`verify` saying where.  It does not prove that an old copy of the whole
database was not put back (the head then is an older, genuine one), nor anything about events that never
reached the store.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from kmsd.audit.event import AuditEvent
from kmsd.json_text import compact_json
from kmsd.store.audit_records import AuditChainState, AuditEventRow
from kmsd.store.base import Store
from kmsd.store.sql.codec import encode_time

GENESIS_HASH = "0" * 64
_EVENT_LABEL = b"kmsd-audit-event-v1\n"
_HEAD_LABEL = b"kmsd-audit-head-v1\n"
_PRUNED_LABEL = b"kmsd-audit-pruned-v1\n"
# Events read per page while verifying.
VERIFY_PAGE = 1000
# How many events append() seals between two calls of its ``pause`` (about a millisecond of work).
PAUSE_EVERY = 32
# How far from its place a moved event is recognised as out of order; moved further, it shows as a broken link.
REORDER_WINDOW = 10_000


def stored_record(record: object) -> str:
    """The stored form of a CloudTrail record, hashed as it is: compact ASCII JSON, its fields in the order the
    record was built (CloudTrail's), so that LookupEvents shows them in that order."""
    return compact_json(record)


class ChainSeal:
    """The HMAC of the chain under one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def event_hash(self, row: AuditEventRow) -> str:
        """The hash ``row`` must carry, from its fields and its ``previous_hash`` (its own sequence is not hashed:
        the links give the order, so a moved event shows as out of order, not as changed)."""
        return self.hash_fields(row.previous_hash, _hashed_fields(row, row.resources), row.record)

    def hash_fields(self, previous_hash: str, fields: list[object], record: str) -> str:
        """The hash of an event whose fields other than the record are ``fields`` (:func:`_hashed_fields`).

        The fields are one line of JSON and the record's stored text follows as it is: a JSON array ends
        where its brackets close, so nothing can move between the two, and the record (most of an event's
        bytes) is not escaped a second time.
        """
        encoded = compact_json(fields).encode("ascii")
        return self._mac(
            _EVENT_LABEL
            + previous_hash.encode("ascii", "replace")
            + b"\n"
            + encoded
            + b"\n"
            + record.encode("utf-8", "surrogatepass")
        )

    def head_seal(self, sequence: int, hash_value: str) -> str:
        return self._mac(_HEAD_LABEL + f"{sequence}\n{hash_value}".encode("ascii", "replace"))

    def pruned_seal(self, sequence: int, hash_value: str) -> str:
        return self._mac(_PRUNED_LABEL + f"{sequence}\n{hash_value}".encode("ascii", "replace"))

    def genesis(self) -> AuditChainState:
        """The state of a chain nothing was ever written to."""
        return AuditChainState(
            0, GENESIS_HASH, self.head_seal(0, GENESIS_HASH), 0, GENESIS_HASH, self.pruned_seal(0, GENESIS_HASH)
        )

    def _mac(self, message: bytes) -> str:
        return hmac.digest(self._key, message, "sha256").hex()


def append(
    store: Store, seal: ChainSeal, events: Sequence[AuditEvent], *, pause: Callable[[], None] | None = None
) -> None:
    """Store ``events`` at the end of the chain, in one transaction (committed when this returns).

    ``pause``, when given, is called after every ``PAUSE_EVERY`` events sealed: the audit trail's writer thread
    lets the event loop have the interpreter there (kmsd.audit.trail).
    """
    if not events:
        return
    with store.bookkeeping_transaction():
        # Read inside the transaction, under the store's writer lock: no other writer can take the same place.
        state = store.audit_chain() or seal.genesis()
        sequence, previous = state.head_sequence, state.head_hash
        rows: list[AuditEventRow] = []
        for index, event in enumerate(events, 1):
            if pause is not None and index % PAUSE_EVERY == 0:
                pause()
            sequence += 1
            row = _row(event, sequence, previous, seal)
            rows.append(row)
            previous = row.hash
        store.insert_audit_events(rows)
        store.put_audit_chain(
            replace(state, head_sequence=sequence, head_hash=previous, head_seal=seal.head_seal(sequence, previous))
        )


def prune(store: Store, seal: ChainSeal, before: datetime) -> int:
    """Delete the oldest events, up to the first one at or after ``before``; how many went.

    Only a prefix of the chain is ever deleted, and the last deleted event's sequence and hash become the sealed
    boundary the chain starts from, so that :func:`verify` still checks every event that is left.
    """
    with store.bookkeeping_transaction():
        state = store.audit_chain()
        if state is None:
            return 0
        kept_from = store.first_audit_sequence_since(before)
        last = kept_from - 1 if kept_from is not None else state.head_sequence
        if last <= state.pruned_sequence:
            return 0
        boundary = store.audit_events_after(last - 1, 1)
        if not boundary or boundary[0].sequence != last:
            # The event the boundary would name is missing: leave the evidence for kmsd audit verify.
            return 0
        deleted = store.delete_audit_events_through(last)
        store.put_audit_chain(
            replace(
                state,
                pruned_sequence=last,
                pruned_hash=boundary[0].hash,
                pruned_seal=seal.pruned_seal(last, boundary[0].hash),
            )
        )
        return deleted


@dataclass
class Verification:
    """What :func:`verify` found: how many events it checked and every problem, in chain order."""

    events: int = 0
    head_sequence: int = 0
    head_hash: str = GENESIS_HASH
    pruned_sequence: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(store: Store, seal: ChainSeal) -> Verification:
    """Walk the chain in sequence order and report every edited, removed, reordered or added event."""
    result = Verification()
    state = store.audit_chain()
    first_page = store.audit_events_after(0, 1)
    if state is None:
        if first_page:
            result.problems.append("the chain's sealed head is missing, but events are stored")
        state = seal.genesis()
    if not hmac.compare_digest(state.head_seal, seal.head_seal(state.head_sequence, state.head_hash)):
        result.problems.append(f"the chain's head (sequence {state.head_sequence}) is not sealed by this root key")
    if not hmac.compare_digest(state.pruned_seal, seal.pruned_seal(state.pruned_sequence, state.pruned_hash)):
        result.problems.append(
            f"the retention boundary (sequence {state.pruned_sequence}) is not sealed by this root key"
        )
    result.head_sequence, result.head_hash, result.pruned_sequence = (
        state.head_sequence,
        state.head_hash,
        state.pruned_sequence,
    )
    last_sequence, last_hash, last_id = state.pruned_sequence, state.pruned_hash, None
    after = state.pruned_sequence
    while True:
        page = store.audit_events_after(after, VERIFY_PAGE)
        for row in page:
            result.events += 1
            name = _name(row)
            if not hmac.compare_digest(row.hash, seal.event_hash(row)):
                result.problems.append(f"{name} was edited: its hash does not match its contents")
            if row.previous_hash != last_hash:
                result.problems.append(_broken_link(store, row, last_sequence, last_id))
            last_sequence, last_hash, last_id = row.sequence, row.hash, row.event_id
        if len(page) < VERIFY_PAGE:
            break
        after = page[-1].sequence
    if last_sequence < state.head_sequence:
        result.problems.append(
            f"events {last_sequence + 1} to {state.head_sequence} were removed: the chain's sealed head is "
            f"sequence {state.head_sequence}, the newest stored event is sequence {last_sequence}"
        )
    elif last_sequence > state.head_sequence:
        result.problems.append(
            f"events {state.head_sequence + 1} to {last_sequence} were added after the chain's sealed head"
        )
    elif last_hash != state.head_hash:
        result.problems.append(f"the newest event (sequence {last_sequence}) is not the chain's sealed head")
    return result


def _broken_link(store: Store, row: AuditEventRow, last_sequence: int, last_id: str | None) -> str:
    """Why ``row`` does not follow the event before it in sequence order."""
    name = _name(row)
    before = f"sequence {last_sequence}" + (f" (event {last_id})" if last_id else "")
    # Where the event was written: a moved event's predecessor is looked for near it (hashes are not indexed).
    predecessor = store.audit_event_with_hash(
        row.previous_hash, max(1, row.sequence - REORDER_WINDOW), row.sequence + REORDER_WINDOW
    )
    if predecessor is not None and predecessor.sequence != last_sequence:
        return (
            f"{name} is out of order: it was written right after sequence {predecessor.sequence} "
            f"(event {predecessor.event_id}), not after {before}"
        )
    if row.sequence > last_sequence + 1:
        missing = row.sequence - last_sequence - 1
        return f"{missing} event(s) removed before {name}: sequences {last_sequence + 1} to {row.sequence - 1}"
    return f"an event before {name} was removed or changed: it does not follow {before}"


def _name(row: AuditEventRow) -> str:
    return f"sequence {row.sequence} (event {row.event_id}, {row.event_name}, account {row.account_id})"


def _row(event: AuditEvent, sequence: int, previous_hash: str, seal: ChainSeal) -> AuditEventRow:
    resources = tuple((resource.type, resource.name) for resource in event.resources)
    record = stored_record(event.record)
    return AuditEventRow(
        sequence=sequence,
        account_id=event.account_id,
        event_id=event.event_id,
        event_time=event.event_time,
        event_source=event.event_source,
        event_name=event.event_name,
        read_only=event.read_only,
        username=event.username,
        access_key_id=event.access_key_id,
        principal_arn=event.principal_arn,
        error_code=event.error_code,
        resources=resources,
        record=record,
        previous_hash=previous_hash,
        hash=seal.hash_fields(previous_hash, _hashed_fields(event, resources), record),
    )


def _hashed_fields(event: AuditEvent | AuditEventRow, resources: tuple[tuple[str, str], ...]) -> list[object]:
    """The fields an event's hash covers besides its record (the same for the event and for its stored row)."""
    return [
        event.account_id,
        event.event_id,
        encode_time(event.event_time),
        event.event_source,
        event.event_name,
        event.read_only,
        event.username,
        event.access_key_id,
        event.principal_arn,
        event.error_code,
        [list(resource) for resource in resources],
    ]
