"""The audit trail's tables on SQLite and PostgreSQL: appending events, the lookups LookupEvents and
``kmsd audit query`` make (every filter, newest first, paging), retention's deletions, and that writing events
is bookkeeping (no key cache emptied, no change announced to other nodes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.store.records import REGION, T0, make_key
from tests.store.store_kinds import AnyStore, Stores, saw_a_change, saw_no_change

from kmsd.store.audit_records import AuditChainState, AuditEventQuery, AuditEventRow

OTHER = "444455556666"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def event(sequence: int, minutes: int, account: str = "111122223333", **changes: object) -> AuditEventRow:
    row = AuditEventRow(
        sequence=sequence,
        account_id=account,
        event_id=f"event-{sequence}",
        event_time=T0 + timedelta(minutes=minutes),
        event_source="kms.amazonaws.com",
        event_name="Encrypt",
        read_only=True,
        username="alice",
        access_key_id="AKIAALICE",
        principal_arn="arn:aws:iam::111122223333:user/alice",
        error_code=None,
        resources=(("AWS::KMS::Key", KEY_ARN),),
        record='{"eventName":"Encrypt"}',
        previous_hash=f"hash-{sequence - 1}",
        hash=f"hash-{sequence}",
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def sequences(store: AnyStore, limit: int = 50, **query: object) -> list[int]:
    return [row.sequence for row in store.find_audit_events(AuditEventQuery(**query), limit)]  # type: ignore[arg-type]


def test_events_come_back_as_stored_newest_first_and_each_filter_narrows(store: AnyStore) -> None:
    rows = [
        event(1, 0),
        event(2, 5, event_name="CreateKey", read_only=False, resources=()),
        event(3, 1, OTHER, username="bob", access_key_id="AKIABOB", principal_arn="arn:aws:iam::444455556666:user/bob"),
        event(4, 3, error_code="AccessDeniedException", event_source="iam.amazonaws.com", event_name="CreateUser"),
        event(5, 3, resources=(("AWS::KMS::Key", KEY_ARN), ("AWS::KMS::Key", KEY_ARN.replace("1234abcd", "9999ffff")))),
    ]
    with store.bookkeeping_transaction():
        store.insert_audit_events(rows)
    assert store.audit_events_after(0, 10) == rows
    assert sequences(store) == [2, 5, 4, 3, 1]  # by time, then sequence, newest first
    assert sequences(store, account_id="111122223333") == [2, 5, 4, 1]
    assert sequences(store, account_id=OTHER) == [3]
    assert sequences(store, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)) == [5, 4, 3]
    assert sequences(store, event_name="CreateKey") == [2]
    assert sequences(store, event_source="iam.amazonaws.com") == [4]
    assert sequences(store, read_only=False) == [2]
    assert sequences(store, username="bob") == [3]
    assert sequences(store, access_key_id="AKIABOB") == [3]
    assert sequences(store, principal_arn="arn:aws:iam::444455556666:user/bob") == [3]
    assert sequences(store, error_code="AccessDeniedException") == [4]
    assert sequences(store, errors_only=True) == [4]
    assert sequences(store, event_id="event-5") == [5]
    assert sequences(store, resource_type="AWS::KMS::Key", account_id="111122223333") == [5, 4, 1]
    assert sequences(store, resource_name=KEY_ARN.replace("1234abcd", "9999ffff")) == [5]
    assert sequences(store, resource_key_id="1234abcd-12ab-34cd-56ef-1234567890ab") == [5, 4, 3, 1]
    assert sequences(store, resource_key_id="34567890ab") == []  # the whole id, not a part of it
    # Paging: strictly older than the last one seen (time, then sequence).
    assert sequences(store, limit=2) == [2, 5]
    assert sequences(store, before=(T0 + timedelta(minutes=3), 5)) == [4, 3, 1]
    found = store.audit_event_with_hash("hash-4", 1, 5)
    assert found is not None and found.sequence == 4
    assert store.audit_event_with_hash("hash-4", 1, 3) is None  # only within the sequences asked
    assert store.audit_event_with_hash("nothing", 1, 5) is None


def test_the_chain_state_is_kept_and_retention_deletes_a_prefix(store: AnyStore) -> None:
    assert store.audit_chain() is None
    state = AuditChainState(3, "hash-3", "seal", 0, "genesis", "pruned-seal")
    with store.bookkeeping_transaction():
        store.insert_audit_events([event(1, 0), event(2, 10), event(3, 20)])
        store.put_audit_chain(state)
    assert store.audit_chain() == state
    store.put_audit_chain(replace(state, pruned_sequence=1))
    assert store.audit_chain() == replace(state, pruned_sequence=1)
    assert store.first_audit_sequence_since(T0 + timedelta(minutes=5)) == 2
    assert store.first_audit_sequence_since(T0 + timedelta(minutes=30)) is None
    with store.bookkeeping_transaction():
        assert store.delete_audit_events_through(2) == 2
    assert [row.sequence for row in store.audit_events_after(0, 10)] == [3]
    assert sequences(store, resource_type="AWS::KMS::Key") == [3]  # the resources went with their events


def test_writing_events_keeps_the_key_cache(store: AnyStore) -> None:
    with store.transaction():
        store.insert_key(make_key(5))
    cached = store.get_key(make_key(5).key_id, REGION)
    assert cached is not None and store.get_key(make_key(5).key_id, REGION) is cached
    with store.bookkeeping_transaction():
        store.insert_audit_events([event(1, 0)])
        store.put_audit_chain(AuditChainState(1, "hash-1", "s", 0, "g", "p"))
    assert store.get_key(make_key(5).key_id, REGION) is cached


def test_writing_events_inside_a_transaction_joins_it_and_a_failure_leaves_nothing(store: AnyStore) -> None:
    try:
        with store.transaction():
            with store.bookkeeping_transaction():
                store.insert_audit_events([event(1, 0)])
            raise RuntimeError("the outer transaction fails")
    except RuntimeError:
        pass
    assert store.audit_events_after(0, 10) == []


def test_other_postgresql_nodes_are_not_told_of_events(stores: Stores) -> None:
    writer, reader = stores.open(), stores.open()
    writer.set_setting("x", "1")
    assert saw_a_change(reader)
    with writer.bookkeeping_transaction():
        writer.insert_audit_events([event(1, 0)])
    if stores.kind == "postgresql":
        # A notification would empty every node's caches, after every batch of Encrypt events.
        assert saw_no_change(reader)
    else:
        # SQLite's data_version counts every commit of another connection; the reader sees the event all the same.
        assert saw_a_change(reader)
    assert [row.sequence for row in reader.audit_events_after(0, 10)] == [1]
