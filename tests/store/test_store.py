"""The Store contract on both stores: every method, transactions, threads, and two stores on one database.

Each test runs on SQLite and on PostgreSQL (``tests/store/conftest.py``): records round-trip, conflicts,
ordering and paging, cascades, transactions (nesting, rollback, doom, a caught Conflict), concurrent writers,
and a store seeing another store's commits.  What only SQLite has (its file, WAL, migrations of old files,
reader connections) is in ``test_sqlite_store.py``; what only PostgreSQL has in ``test_postgres_store.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.store.records import (
    ACCOUNT,
    REGION,
    T0,
    key_id,
    make_access_key,
    make_alias,
    make_key,
    make_material,
)
from tests.store.store_kinds import AnyStore, Stores, saw_a_change, saw_no_change

from kmsd.store.base import Conflict, Store, StoreError, iter_all_keys
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.models import Account, KeyRecord
from kmsd.store.sqlite import SqliteStore

OTHER_ACCOUNT = "444455556666"


def test_the_store_satisfies_the_store_protocol(store: AnyStore) -> None:
    as_protocol: Store = store
    assert as_protocol.ping()


# --- accounts -------------------------------------------------------------------------


def test_accounts_round_trip_and_list_in_id_order(store: AnyStore) -> None:
    store.create_account(Account(OTHER_ACCOUNT, T0))
    store.create_account(Account(ACCOUNT, T0 + timedelta(microseconds=1)))
    assert store.get_account(ACCOUNT) == Account(ACCOUNT, T0 + timedelta(microseconds=1))
    assert store.get_account("999999999999") is None
    assert [a.account_id for a in store.list_accounts()] == [ACCOUNT, OTHER_ACCOUNT]


def test_creating_an_existing_account_is_a_conflict(store: AnyStore) -> None:
    store.create_account(Account(ACCOUNT, T0))
    with pytest.raises(Conflict, match=ACCOUNT):
        store.create_account(Account(ACCOUNT, T0 + timedelta(days=1)))
    assert store.get_account(ACCOUNT) == Account(ACCOUNT, T0)


def test_datetimes_come_back_as_aware_utc_with_microseconds(store: AnyStore) -> None:
    tokyo = timezone(timedelta(hours=9))
    local = datetime(2026, 1, 2, 12, 4, 5, 999999, tzinfo=tokyo)
    store.create_account(Account(ACCOUNT, local))
    got = store.get_account(ACCOUNT)
    assert got is not None
    assert got.created_at == local
    assert got.created_at.tzinfo is UTC
    assert got.created_at.microsecond == 999999
    assert got.created_at.hour == 3


def test_naive_datetimes_are_refused(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        store.create_account(Account(ACCOUNT, datetime(2026, 1, 1)))
    assert store.list_accounts() == []


# --- access keys ------------------------------------------------------------------------


def test_access_keys_put_get_and_list_by_creation(store: AnyStore) -> None:
    store.create_account(Account(ACCOUNT, T0))
    store.create_account(Account(OTHER_ACCOUNT, T0))
    late = make_access_key("A", T0 + timedelta(hours=1))
    early = make_access_key("B", T0)
    elsewhere = make_access_key("C", T0, account_id=OTHER_ACCOUNT)
    for record in (late, early, elsewhere):
        store.put_access_key(record)
    assert store.get_access_key(late.access_key_id) == late
    assert store.get_access_key("AKIANOTSTORED00000") is None
    assert store.list_access_keys(ACCOUNT) == [early, late]
    assert store.list_access_keys(OTHER_ACCOUNT) == [elsewhere]
    assert store.list_access_keys("999999999999") == []


def test_put_access_key_replaces_the_record_with_the_same_id(store: AnyStore) -> None:
    store.create_account(Account(ACCOUNT, T0))
    original = make_access_key("A")
    store.put_access_key(original)
    deactivated = replace(original, status="Inactive", wrapped_secret=b"rewrapped")
    store.put_access_key(deactivated)
    assert store.get_access_key(original.access_key_id) == deactivated
    assert store.list_access_keys(ACCOUNT) == [deactivated]


def test_access_key_of_an_unknown_account_is_refused_without_conflict(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="does not exist") as raised:
        store.put_access_key(make_access_key("A"))
    assert not isinstance(raised.value, Conflict)


# --- keys ---------------------------------------------------------------------------------


def test_key_with_every_field_set_round_trips(store: AnyStore) -> None:
    key = make_key(
        1,
        description="ünïcode — description",
        key_state="PendingDeletion",
        deletion_date=T0 + timedelta(days=7),
        pending_deletion_window_days=7,
        rotation_enabled=True,
        rotation_period_days=90,
        next_rotation_date=T0 + timedelta(days=90),
        multi_region=True,
        current_material_version=3,
        tags={"Project": "kmsd", "Empty": "", "Ключ": "значение"},
    )
    store.insert_key(key)
    got = store.get_key(key.key_id, REGION)
    assert got == key
    assert got is not None and list(got.tags) == ["Project", "Empty", "Ключ"]


def test_key_defaults_round_trip(store: AnyStore) -> None:
    key = make_key(1)
    store.insert_key(key)
    assert store.get_key(key.key_id, REGION) == key
    assert store.get_key(key_id(2), REGION) is None


def test_inserting_an_existing_key_is_a_conflict(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    with pytest.raises(Conflict, match=key_id(1)):
        store.insert_key(make_key(1, description="again"))
    assert store.get_key(key_id(1), REGION) == make_key(1)


def test_update_key_replaces_every_field_but_its_identity(store: AnyStore) -> None:
    store.insert_key(make_key(1, tags={"a": "1", "b": "2"}))
    # A key is its id in its Region (migration 11): a replica in another Region is another key.
    store.insert_key(make_key(1, region="eu-west-1"))
    updated = make_key(
        1,
        account_id=OTHER_ACCOUNT,
        description="changed",
        key_state="Disabled",
        policy="{}",
        current_material_version=2,
        rotation_enabled=True,
        rotation_period_days=365,
        next_rotation_date=T0 + timedelta(days=365),
        tags={"c": "3"},
    )
    store.update_key(updated)
    assert store.get_key(key_id(1), REGION) == updated
    assert store.get_key(key_id(1), "eu-west-1") == make_key(1, region="eu-west-1")
    store.update_key(make_key(1))
    assert store.get_key(key_id(1), REGION) == make_key(1)


def test_updating_a_missing_key_is_an_error(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="not stored"):
        store.update_key(make_key(1))
    assert store.get_key(key_id(1), REGION) is None


def test_list_keys_pages_by_key_id_within_one_account_and_region(store: AnyStore) -> None:
    for n in (5, 3, 1, 4, 2):
        store.insert_key(make_key(n))
    store.insert_key(make_key(10, account_id=OTHER_ACCOUNT))
    store.insert_key(make_key(11, region="eu-west-1"))
    assert [k.key_id for k in store.list_keys(ACCOUNT, REGION, None, 100)] == [key_id(n) for n in range(1, 6)]
    assert [k.key_id for k in store.list_keys(ACCOUNT, REGION, None, 2)] == [key_id(1), key_id(2)]
    assert [k.key_id for k in store.list_keys(ACCOUNT, REGION, key_id(2), 2)] == [key_id(3), key_id(4)]
    assert store.list_keys(ACCOUNT, REGION, key_id(5), 2) == []
    assert store.list_keys(ACCOUNT, REGION, None, 0) == []
    assert [k.key_id for k in store.list_keys(OTHER_ACCOUNT, REGION, None, 10)] == [key_id(10)]
    assert [k.key_id for k in store.list_keys(ACCOUNT, "eu-west-1", None, 10)] == [key_id(11)]
    assert [k.key_id for k in iter_all_keys(store, ACCOUNT, REGION, page=2)] == [key_id(n) for n in range(1, 6)]


def test_list_keys_refuses_a_negative_limit(store: AnyStore) -> None:
    # SQLite reads LIMIT -1 as "no limit"; a negative page size is a caller's bug.
    with pytest.raises(StoreError, match="negative"):
        store.list_keys(ACCOUNT, REGION, None, -1)


def test_delete_key_removes_its_material_and_aliases_only(store: AnyStore) -> None:
    for n in (1, 2):
        store.insert_key(make_key(n))
        store.add_key_material(make_material(n))
        store.add_key_material(make_material(n, 2, "ON_DEMAND"))
    store.insert_alias(make_alias("alias/one", 1))
    store.insert_alias(make_alias("alias/two", 2))
    store.delete_key(key_id(1), REGION)
    assert store.get_key(key_id(1), REGION) is None
    assert store.list_key_materials(key_id(1)) == []
    assert store.get_alias(ACCOUNT, REGION, "alias/one") is None
    assert store.get_key(key_id(2), REGION) == make_key(2)
    assert len(store.list_key_materials(key_id(2))) == 2
    assert [a.alias_name for a in store.list_aliases(ACCOUNT, REGION)] == ["alias/two"]
    store.delete_key(key_id(1), REGION)
    assert store.get_key(key_id(2), REGION) is not None


def test_keys_pending_deletion_before_includes_the_deletion_instant(store: AnyStore) -> None:
    due = T0 + timedelta(days=7)
    store.insert_key(make_key(1, key_state="PendingDeletion", deletion_date=due))
    store.insert_key(make_key(2, key_state="PendingDeletion", deletion_date=due - timedelta(days=1)))
    store.insert_key(make_key(3, key_state="PendingDeletion", deletion_date=due + timedelta(microseconds=1)))
    # A deletion date left on a key that is no longer pending deletion must not delete it.
    store.insert_key(make_key(4, key_state="Enabled", deletion_date=due - timedelta(days=2)))
    assert [k.key_id for k in store.keys_pending_deletion_before(due)] == [key_id(2), key_id(1)]
    assert store.keys_pending_deletion_before(due - timedelta(days=30)) == []


def test_keys_due_for_rotation_are_those_with_rotation_on_and_the_date_reached(store: AnyStore) -> None:
    when = T0 + timedelta(days=365)
    store.insert_key(make_key(1, rotation_enabled=True, next_rotation_date=when))
    store.insert_key(make_key(2, rotation_enabled=True, next_rotation_date=when - timedelta(days=1)))
    store.insert_key(make_key(3, rotation_enabled=True, next_rotation_date=when + timedelta(seconds=1)))
    store.insert_key(make_key(4, rotation_enabled=False, next_rotation_date=when - timedelta(days=1)))
    store.insert_key(
        make_key(5, key_state="Disabled", rotation_enabled=True, next_rotation_date=when - timedelta(days=2))
    )
    assert [k.key_id for k in store.keys_due_for_rotation(when)] == [key_id(5), key_id(2), key_id(1)]


# --- key material -------------------------------------------------------------------------


def test_key_materials_round_trip_in_version_order(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    third, first, second = (
        make_material(1, 3, "AUTOMATIC"),
        make_material(1, 1),
        make_material(1, 2, "ON_DEMAND"),
    )
    for material in (third, first, second):
        store.add_key_material(material)
    assert store.get_key_material(key_id(1), 2) == second
    assert store.get_key_material(key_id(1), 4) is None
    assert store.get_key_material(key_id(2), 1) is None
    assert store.list_key_materials(key_id(1)) == [first, second, third]
    assert store.list_key_materials(key_id(2)) == []


def test_adding_an_existing_material_version_is_a_conflict(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    store.add_key_material(make_material(1))
    with pytest.raises(Conflict):
        store.add_key_material(replace(make_material(1), wrapped_material=b"other"))
    assert store.list_key_materials(key_id(1)) == [make_material(1)]


def test_material_for_a_missing_key_is_refused_without_conflict(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="does not exist") as raised:
        store.add_key_material(make_material(1))
    assert not isinstance(raised.value, Conflict)


# --- aliases -------------------------------------------------------------------------------


def test_aliases_round_trip_and_list_by_name(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    store.insert_key(make_key(2))
    for name, target in (("alias/zeta", 1), ("alias/alpha", 2), ("alias/mid", 1)):
        store.insert_alias(make_alias(name, target))
    assert store.get_alias(ACCOUNT, REGION, "alias/mid") == make_alias("alias/mid", 1)
    assert store.get_alias(ACCOUNT, REGION, "alias/none") is None
    assert [a.alias_name for a in store.list_aliases(ACCOUNT, REGION)] == [
        "alias/alpha",
        "alias/mid",
        "alias/zeta",
    ]
    assert [a.alias_name for a in store.list_aliases(ACCOUNT, REGION, key_id(1))] == [
        "alias/mid",
        "alias/zeta",
    ]
    assert store.list_aliases(ACCOUNT, REGION, key_id(3)) == []
    assert store.list_aliases(ACCOUNT, "eu-west-1") == []


def test_alias_names_are_unique_per_account_and_region(store: AnyStore) -> None:
    # "The alias must be unique in the account and Region" (KMS API Reference, CreateAlias).
    store.insert_key(make_key(1))
    store.insert_key(make_key(2, region="eu-west-1"))
    store.insert_key(make_key(3, account_id=OTHER_ACCOUNT))
    store.insert_alias(make_alias("alias/app", 1))
    store.insert_alias(make_alias("alias/app", 2, region="eu-west-1"))
    store.insert_alias(make_alias("alias/app", 3, account_id=OTHER_ACCOUNT))
    with pytest.raises(Conflict, match="alias/app"):
        store.insert_alias(make_alias("alias/app", 1))
    assert len(store.list_aliases(ACCOUNT, REGION)) == 1


def test_alias_to_a_missing_key_is_refused(store: AnyStore) -> None:
    # "You can't create an alias without a KMS key" (KMS API Reference, CreateAlias).
    with pytest.raises(StoreError, match="does not exist") as raised:
        store.insert_alias(make_alias("alias/orphan", 9))
    assert not isinstance(raised.value, Conflict)


def test_update_alias_retargets_it(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    store.insert_key(make_key(2))
    store.insert_alias(make_alias("alias/app", 1))
    moved = replace(make_alias("alias/app", 2), last_updated_date=T0 + timedelta(hours=1))
    store.update_alias(moved)
    assert store.get_alias(ACCOUNT, REGION, "alias/app") == moved
    assert store.list_aliases(ACCOUNT, REGION, key_id(1)) == []
    with pytest.raises(StoreError, match="not stored"):
        store.update_alias(make_alias("alias/missing", 1))
    with pytest.raises(StoreError, match="does not exist"):
        store.update_alias(make_alias("alias/app", 9))


def test_delete_alias_removes_only_that_alias(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    store.insert_alias(make_alias("alias/a", 1))
    store.insert_alias(make_alias("alias/b", 1))
    store.delete_alias(ACCOUNT, REGION, "alias/a")
    store.delete_alias(ACCOUNT, REGION, "alias/never")
    assert [a.alias_name for a in store.list_aliases(ACCOUNT, REGION)] == ["alias/b"]
    assert store.get_key(key_id(1), REGION) is not None


# --- settings and lifecycle -------------------------------------------------------------------


def test_settings_get_set_and_overwrite(store: AnyStore) -> None:
    assert store.get_setting("default_account_initialised") is None
    store.set_setting("default_account_initialised", "no")
    store.set_setting("default_account_initialised", "yes")
    assert store.get_setting("default_account_initialised") == "yes"


def test_ping_and_close(stores: Stores) -> None:
    opened = stores.open()
    assert opened.ping()
    opened.close()
    assert not opened.ping()
    with pytest.raises(StoreError):
        opened.get_key(key_id(1), REGION)
    with pytest.raises(StoreError):
        opened.set_setting("a", "b")
    opened.close()


def test_reopening_a_store_keeps_its_data(stores: Stores) -> None:
    first = stores.open()
    first.insert_key(make_key(1))
    first.close()
    again = stores.open()
    assert again.schema_version() == LATEST_VERSION
    assert again.get_key(key_id(1), REGION) == make_key(1)


# --- transactions --------------------------------------------------------------------------


def test_an_exception_rolls_back_the_whole_transaction(store: AnyStore, second_store: AnyStore) -> None:
    with pytest.raises(ValueError, match="half-way"), store.transaction():
        store.create_account(Account(ACCOUNT, T0))
        store.insert_key(make_key(1))
        store.add_key_material(make_material(1))
        raise ValueError("half-way")
    for view in (store, second_store):
        assert view.list_accounts() == []
        assert view.get_key(key_id(1), REGION) is None
        assert view.list_key_materials(key_id(1)) == []


def test_nested_blocks_join_the_outer_transaction(store: AnyStore, second_store: AnyStore) -> None:
    with store.transaction():
        store.insert_key(make_key(1))
        with store.transaction():
            store.insert_key(make_key(2))
        # The inner block's exit did not commit: another connection sees nothing yet.
        assert second_store.get_key(key_id(2), REGION) is None
        assert store.get_key(key_id(2), REGION) is not None
    assert second_store.get_key(key_id(1), REGION) is not None
    assert second_store.get_key(key_id(2), REGION) is not None


def test_an_outer_exception_undoes_a_finished_inner_block(store: AnyStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            store.insert_key(make_key(1))
        raise RuntimeError("after the inner block")
    assert store.get_key(key_id(1), REGION) is None


def test_an_inner_exception_caught_by_the_outer_block_still_rolls_everything_back(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="caught before the outermost block"), store.transaction():
        store.insert_key(make_key(1))
        try:
            with store.transaction():
                store.insert_key(make_key(2))
                raise KeyError("inner")
        except KeyError:
            pass
    assert store.get_key(key_id(1), REGION) is None
    assert store.get_key(key_id(2), REGION) is None
    # The store is usable afterwards.
    with store.transaction():
        store.insert_key(make_key(3))
    assert store.get_key(key_id(3), REGION) is not None


def _a_key_the_database_refuses(store: AnyStore) -> KeyRecord:
    """A key whose insert fails with a database error that is not a constraint violation."""
    if isinstance(store, SqliteStore):
        # Errors such as disk full, I/O or too big may end SQLite's transaction.  A small length limit stands
        # in (above the length of the schema's longest trigger, which SQLite reads as a string too).
        store._writer.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2000)
        return make_key(2, policy="x" * 5000)
    # PostgreSQL aborts the whole transaction on any error; a number too big for BIGINT is one.
    return make_key(2, rotation_period_days=2**63)


def test_a_caught_database_error_dooms_the_transaction(store: AnyStore) -> None:
    # Later statements must not commit one by one, nor the transaction with part of its writes.
    refused = _a_key_the_database_refuses(store)
    with pytest.raises(StoreError, match="caught before the outermost block"), store.transaction():
        store.insert_key(make_key(1))
        with pytest.raises(StoreError) as raised:
            store.insert_key(refused)
        assert not isinstance(raised.value, Conflict)
        with pytest.raises(StoreError, match="already rolled back"):
            store.insert_key(make_key(3))
    assert store.list_keys(ACCOUNT, REGION, None, 10) == []


def test_a_caught_conflict_leaves_the_transaction_usable(store: AnyStore) -> None:
    store.create_account(Account(ACCOUNT, T0))
    with store.transaction():
        try:
            store.create_account(Account(ACCOUNT, T0))
        except Conflict:
            store.put_access_key(make_access_key("A"))
    assert store.list_access_keys(ACCOUNT) == [make_access_key("A")]


def test_other_threads_do_not_see_uncommitted_writes(store: AnyStore) -> None:
    written = threading.Event()
    observed = threading.Event()
    seen: list[KeyRecord | None] = []

    def look() -> None:
        written.wait(10)
        seen.append(store.get_key(key_id(1), REGION))
        observed.set()

    reader = threading.Thread(target=look)
    reader.start()
    with store.transaction():
        store.insert_key(make_key(1))
        written.set()
        observed.wait(10)
    reader.join()
    assert seen == [None]
    assert store.get_key(key_id(1), REGION) == make_key(1)


def test_concurrent_writers_in_threads_all_commit(store: AnyStore) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(20):
                with store.transaction():
                    store.insert_key(make_key(worker * 100 + i))
                    assert store.get_key(key_id(worker * 100 + i), REGION) is not None
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_keys(ACCOUNT, REGION, None, 1000)) == 80


# --- two stores on one database ------------------------------------------------------------------


def test_writers_of_two_stores_all_commit(store: AnyStore, second_store: AnyStore) -> None:
    # Two processes (SQLite) or nodes (PostgreSQL): their write transactions take turns, none is lost.
    errors: list[BaseException] = []

    def write(writer: AnyStore, worker: int) -> None:
        try:
            for i in range(10):
                with writer.transaction():
                    # Read-then-write inside the transaction, as the services do: nobody may slip in between.
                    assert writer.get_key(key_id(worker * 100 + i), REGION) is None
                    writer.insert_key(make_key(worker * 100 + i))
        except BaseException as error:
            errors.append(error)

    writers = (store, second_store) * 2
    threads = [threading.Thread(target=write, args=(writer, w)) for w, writer in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_keys(ACCOUNT, REGION, None, 1000)) == 40


def test_two_stores_on_one_database_see_each_others_commits(store: AnyStore, second_store: AnyStore) -> None:
    assert store.changed_since_last_check() is False
    assert second_store.changed_since_last_check() is False

    with second_store.transaction():
        second_store.insert_key(make_key(1))
    assert store.get_key(key_id(1), REGION) == make_key(1)
    assert saw_a_change(store)
    assert store.changed_since_last_check() is False
    # A store's own commits are not "changes by someone else" (SQLite: PRAGMA data_version; PostgreSQL: the
    # notification carries the store's id).
    assert saw_no_change(second_store)

    store.set_setting("x", "1")
    assert saw_no_change(store)
    assert saw_a_change(second_store)
    assert second_store.get_setting("x") == "1"


def test_own_commits_from_another_thread_are_not_reported_as_changes(store: AnyStore, second_store: AnyStore) -> None:
    writer = threading.Thread(target=store.insert_key, args=(make_key(1),))
    writer.start()
    writer.join()
    assert store.get_key(key_id(1), REGION) is not None
    # Once another store has heard of the commit, this one would have too.
    assert saw_a_change(second_store)
    assert saw_no_change(store)


def test_a_rolled_back_transaction_elsewhere_is_not_a_change(store: AnyStore, second_store: AnyStore) -> None:
    with pytest.raises(ValueError), second_store.transaction():
        second_store.insert_key(make_key(1))
        raise ValueError
    assert saw_no_change(store)
    # The store does hear a commit: the silence above was not deafness.
    second_store.insert_key(make_key(1))
    assert saw_a_change(store)


def test_a_busy_writer_does_not_hide_another_stores_commit(store: AnyStore, second_store: AnyStore) -> None:
    # kmsd serve --workers: the event loop checks with wait=False on every request, and must see another
    # process's commit even while this store's writer is held by a call on another thread.
    assert store.changed_since_last_check() is False
    holding, release = threading.Event(), threading.Event()

    def hold_the_writer() -> None:
        with store.transaction():
            holding.set()
            release.wait()

    # The other store commits before this one's writer is taken (while it is, no one else may write).
    second_store.set_setting("x", "1")
    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    holding.wait()
    try:
        assert saw_a_change(store, wait=False)
        assert store.changed_since_last_check(wait=False) is False
    finally:
        release.set()
        holder.join()
