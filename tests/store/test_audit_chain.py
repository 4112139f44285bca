"""The audit trail's hash chain and queue on both store kinds: one chain however many write at once, every
edited, removed, reordered or cut-off event reported, retention that keeps the chain verifiable, and the queue
of read-only calls' events (batched, bounded, flushed at close)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from tests.store.store_kinds import AnyStore, Stores

from kmsd.audit.chain import PAUSE_EVERY, ChainSeal, append, prune, verify
from kmsd.audit.event import AuditEvent, EventResource
from kmsd.audit.trail import AuditTrail
from kmsd.clock import ManualClock
from kmsd.store.audit_records import AuditEventRow
from kmsd.store.base import StoreError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEAL = ChainSeal(b"k" * 32)
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def make_event(n: int, minutes: float = 0, account: str = "111122223333") -> AuditEvent:
    return AuditEvent(
        account_id=account,
        event_id=f"00000000-0000-0000-0000-{n:012d}",
        event_time=T0 + timedelta(minutes=minutes),
        event_source="kms.amazonaws.com",
        event_name="Encrypt",
        read_only=True,
        username="alice",
        access_key_id="AKIAALICE",
        principal_arn="arn:aws:iam::111122223333:user/alice",
        error_code=None,
        resources=(EventResource("AWS::KMS::Key", KEY_ARN),),
        record={"eventName": "Encrypt", "n": n, "requestParameters": {"keyId": KEY_ARN, "ünïcode": "✓"}},
    )


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def raw(store: AnyStore, sql: str, *parameters: object) -> None:
    """Change the database behind kmsd's back, as someone with database access but not the root key could."""
    with store.transaction():
        store._write(sql, parameters, "tampering")


def test_concurrent_writers_on_two_stores_make_one_intact_chain(stores: Stores) -> None:
    nodes = [stores.open(), stores.open()]

    def write(node: AnyStore, first: int) -> None:
        for n in range(first, first + 20):
            append(node, SEAL, [make_event(n), make_event(n + 1000, account="444455556666")])

    threads = [threading.Thread(target=write, args=(node, index * 100)) for index, node in enumerate(nodes * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify(nodes[0], SEAL)
    assert result.problems == []
    assert (result.events, result.head_sequence) == (160, 160)
    assert [row.sequence for row in nodes[1].audit_events_after(0, 1000)] == list(range(1, 161))


def test_an_edited_a_removed_a_reordered_and_a_cut_off_event_are_each_reported(store: AnyStore) -> None:
    append(store, SEAL, [make_event(n, n) for n in range(1, 11)])
    assert verify(store, SEAL).intact
    raw(store, "UPDATE audit_events SET record = ? WHERE sequence = 3", '{"eventName":"Decrypt"}')
    (edited,) = verify(store, SEAL).problems
    assert edited.startswith("sequence 3 (event 00000000-0000-0000-0000-000000000003") and "was edited" in edited

    raw(store, "DELETE FROM audit_events WHERE sequence = 5")
    problems = verify(store, SEAL).problems
    assert problems[1] == (
        "1 event(s) removed before sequence 6 (event 00000000-0000-0000-0000-000000000006, Encrypt, account "
        "111122223333): sequences 5 to 5"
    )

    # Swap two events' places (sequences), every column as it was written.
    raw(store, "UPDATE audit_events SET sequence = 100 WHERE sequence = 7")
    raw(store, "UPDATE audit_events SET sequence = 7 WHERE sequence = 8")
    raw(store, "UPDATE audit_events SET sequence = 8 WHERE sequence = 100")
    problems = verify(store, SEAL).problems
    assert any(
        problem.startswith("sequence 7 (event 00000000-0000-0000-0000-000000000008")
        and "is out of order: it was written right after sequence 8 (event 00000000-0000-0000-0000-000000000007)"
        in problem
        for problem in problems
    ), problems

    raw(store, "DELETE FROM audit_events WHERE sequence >= 9")
    problems = verify(store, SEAL).problems
    assert problems[-1].startswith("events 9 to 10 were removed: the chain's sealed head is sequence 10")


def test_a_rewritten_hash_needs_the_key_and_another_key_sees_nothing_sealed(store: AnyStore) -> None:
    append(store, SEAL, [make_event(1), make_event(2)])
    other = ChainSeal(b"x" * 32)
    problems = verify(store, other).problems
    assert "the chain's head (sequence 2) is not sealed by this root key" in problems
    assert sum("was edited" in problem for problem in problems) == 2


def test_retention_deletes_the_oldest_events_and_the_rest_still_verifies(store: AnyStore) -> None:
    assert prune(store, SEAL, T0) == 0  # nothing written yet
    append(store, SEAL, [make_event(n, n) for n in range(1, 6)])
    assert prune(store, SEAL, T0 + timedelta(minutes=3)) == 2
    assert prune(store, SEAL, T0 + timedelta(minutes=3)) == 0
    result = verify(store, SEAL)
    assert (result.problems, result.events, result.pruned_sequence) == ([], 3, 2)
    append(store, SEAL, [make_event(6, 6)])
    assert verify(store, SEAL).intact
    # Moving the boundary by hand (hiding a deletion of the oldest events) needs the key.
    raw(store, "DELETE FROM audit_events WHERE sequence = 3")
    raw(store, "UPDATE audit_chain SET pruned_sequence = 3")
    assert "the retention boundary (sequence 3) is not sealed by this root key" in verify(store, SEAL).problems
    # Everything older than the period: all of it goes, and the boundary is the head.
    store2_problems = prune(store, SEAL, T0 + timedelta(days=1))
    assert store2_problems == 3


def test_durable_events_are_stored_before_record_returns(store: AnyStore) -> None:
    trail = AuditTrail(store, SEAL, ManualClock(T0))
    trail.record([make_event(1)], durable=True)
    assert len(store.audit_events_after(0, 10)) == 1
    assert trail.queue_depth() == 0


def test_read_only_events_are_queued_written_in_batches_and_flushed_at_close(store: AnyStore) -> None:
    trail = AuditTrail(store, SEAL, ManualClock(T0), batch_size=3, flush_interval=60)
    trail.record([make_event(1)], durable=False)
    trail.record([make_event(2)], durable=False)
    assert trail.queue_depth() == 2 and store.audit_events_after(0, 10) == []
    trail.start()
    trail.record([make_event(3)], durable=False)  # a full batch wakes the writer at once
    written = threading.Event()

    def poll() -> None:
        while len(store.audit_events_after(0, 10)) < 3:
            threading.Event().wait(0.01)
        written.set()

    threading.Thread(target=poll, daemon=True).start()
    assert written.wait(10)
    assert trail.queue_depth() == 0
    trail.record([make_event(4)], durable=False)
    assert trail.queue_depth() == 1
    trail.close()  # the shutdown writes what is queued
    assert trail.queue_depth() == 0
    assert [row.event_id[-1] for row in store.audit_events_after(0, 10)] == ["1", "2", "3", "4"]
    trail.record([make_event(5)], durable=False)  # after close: written at once, never lost
    assert len(store.audit_events_after(0, 10)) == 5
    assert verify(store, SEAL).intact


def test_a_full_queue_makes_the_caller_write_its_events_itself(store: AnyStore) -> None:
    trail = AuditTrail(store, SEAL, ManualClock(T0), queue_limit=2, flush_interval=60)
    trail.record([make_event(1), make_event(2)], durable=False)
    assert trail.queue_depth() == 2
    trail.record([make_event(3)], durable=False)  # no room: stored now, by the caller
    assert [row.event_id[-1] for row in store.audit_events_after(0, 10)] == ["3"]
    assert trail.queue_depth() == 2
    trail.flush()
    assert trail.queue_depth() == 0 and len(store.audit_events_after(0, 10)) == 3


def test_under_load_the_writer_writes_whole_batches_and_the_rest_at_the_interval(store: AnyStore) -> None:
    """A writer that wrote whatever was queued each time it woke would chase the queue's tail with one small
    transaction after another; it writes whole batches, and what is left of one only when the interval is up."""
    trail = AuditTrail(store, SEAL, ManualClock(T0), batch_size=3, flush_interval=2.0)
    trail.start()
    try:
        trail.record([make_event(n) for n in range(1, 6)], durable=False)  # a batch and two more
        wait_until(lambda: len(store.audit_events_after(0, 10)) >= 3)
        assert len(store.audit_events_after(0, 10)) == 3 and trail.queue_depth() == 2  # the two wait ...
        wait_until(lambda: len(store.audit_events_after(0, 10)) == 5)  # ... for the interval, not longer
        assert trail.queue_depth() == 0
    finally:
        trail.close()
    assert verify(store, SEAL).intact


def test_an_event_that_cannot_be_written_is_left_out_and_does_not_hold_up_the_rest(
    store: AnyStore, caplog: pytest.LogCaptureFixture
) -> None:
    trail = AuditTrail(store, SEAL, ManualClock(T0), flush_interval=60)
    flawed = dataclasses.replace(make_event(2), record={"eventName": "Encrypt", "n": b"no JSON for bytes"})
    trail.record([make_event(1), flawed, make_event(3)], durable=False)
    trail.flush()
    assert [row.event_id[-1] for row in store.audit_events_after(0, 10)] == ["1", "3"]
    assert trail.queue_depth() == 0 and verify(store, SEAL).intact
    (message,) = [record.getMessage() for record in caplog.records if record.name == "kmsd.audit"]
    assert flawed.event_id in message and "TypeError" in message and "no JSON" not in message


def test_a_long_append_pauses_every_few_events_for_the_event_loop(store: AnyStore) -> None:
    pauses: list[int] = []
    append(store, SEAL, [make_event(n) for n in range(1, 71)], pause=lambda: pauses.append(len(pauses)))
    assert len(pauses) == 70 // PAUSE_EVERY
    assert len(store.audit_events_after(0, 100)) == 70 and verify(store, SEAL).intact


def test_a_durable_event_the_store_refuses_is_queued_and_retried_not_lost(
    store: AnyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert = store.insert_audit_events
    refusals = [StoreError("disk I/O error")]

    def refuse_once(rows: Sequence[AuditEventRow]) -> None:
        if refusals:
            raise refusals.pop()
        insert(rows)

    monkeypatch.setattr(store, "insert_audit_events", refuse_once)
    unstarted = AuditTrail(store, SEAL, ManualClock(T0))
    with pytest.raises(StoreError):  # no writer to retry: the caller hears of it
        unstarted.record([make_event(1)], durable=True)
    refusals.append(StoreError("disk I/O error"))
    trail = AuditTrail(store, SEAL, ManualClock(T0), flush_interval=0.2)
    trail.start()
    try:
        trail.record([make_event(2)], durable=True)  # refused, queued, no exception for the call
        wait_until(lambda: len(store.audit_events_after(0, 10)) == 1)
    finally:
        trail.close()
    assert [row.event_id[-1] for row in store.audit_events_after(0, 10)] == ["2"]
    assert verify(store, SEAL).intact


def test_retention_runs_at_most_once_per_interval(store: AnyStore) -> None:
    ticks = [0.0]
    clock = ManualClock(T0 + timedelta(days=100))
    trail = AuditTrail(store, SEAL, clock, retention_check_interval=3600, monotonic=lambda: ticks[0])
    trail.record([make_event(1)], durable=True)
    assert trail.sweep() == 1
    trail.record([make_event(2)], durable=True)
    assert trail.sweep() == 0  # not due yet
    ticks[0] = 3600
    assert trail.sweep() == 1
    assert verify(store, SEAL).intact
