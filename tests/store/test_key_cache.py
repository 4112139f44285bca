"""The in-memory cache behind ``SqliteStore.get_key``: never staler than the rules in its docstring."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.store.records import REGION, make_key
from tests.store.store_kinds import Ticks

from kmsd.store.sqlite import BUSY_WRITER_SECONDS, KEY_CACHE_CHECK_SECONDS, SqliteStore


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def stores(tmp_path: Path, ticks: Ticks) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    first = SqliteStore(tmp_path / "kmsd.db", monotonic=ticks)
    second = SqliteStore(tmp_path / "kmsd.db", monotonic=ticks)
    yield first, second
    second.close()
    first.close()


def test_own_writes_are_seen_at_once(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    with store.transaction():
        store.insert_key(make_key(1))
    assert store.get_key(make_key(1).key_id, REGION) == make_key(1)  # now cached
    disabled = dataclasses.replace(make_key(1), key_state="Disabled")
    with store.transaction():
        store.update_key(disabled)
    assert store.get_key(disabled.key_id, REGION) == disabled
    with store.transaction():
        store.delete_key(disabled.key_id, REGION)
    assert store.get_key(disabled.key_id, REGION) is None


def test_a_rolled_back_write_leaves_the_committed_record(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    with store.transaction():
        store.insert_key(make_key(2))
    assert store.get_key(make_key(2).key_id, REGION) == make_key(2)
    with pytest.raises(RuntimeError), store.transaction():
        store.update_key(dataclasses.replace(make_key(2), description="never committed"))
        raise RuntimeError("abort")
    assert store.get_key(make_key(2).key_id, REGION) == make_key(2)


def test_a_key_created_elsewhere_is_found_at_once(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, other = stores
    assert store.get_key(make_key(3).key_id, REGION) is None  # a miss is never cached
    with other.transaction():
        other.insert_key(make_key(3))
    assert store.get_key(make_key(3).key_id, REGION) == make_key(3)


def test_another_stores_change_is_seen_after_the_change_check(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, other = stores
    with store.transaction():
        store.insert_key(make_key(4))
    assert store.get_key(make_key(4).key_id, REGION) == make_key(4)
    disabled = dataclasses.replace(make_key(4), key_state="Disabled")
    with other.transaction():
        other.update_key(disabled)
    assert store.changed_since_last_check()
    assert store.get_key(disabled.key_id, REGION) == disabled


def test_another_stores_change_is_seen_within_the_bound_without_a_check(
    stores: tuple[SqliteStore, SqliteStore], ticks: Ticks
) -> None:
    store, other = stores
    with store.transaction():
        store.insert_key(make_key(5))
    assert store.get_key(make_key(5).key_id, REGION) == make_key(5)
    renamed = dataclasses.replace(make_key(5), description="changed by another node")
    with other.transaction():
        other.update_key(renamed)
    ticks.seconds += KEY_CACHE_CHECK_SECONDS * 0.5
    assert store.get_key(renamed.key_id, REGION) == make_key(5)  # within the bound the cache still answers
    ticks.seconds += KEY_CACHE_CHECK_SECONDS
    assert store.get_key(renamed.key_id, REGION) == renamed
    # get_key's own check does not use up the signal the request path relies on.
    assert store.changed_since_last_check()


def test_a_commit_that_changes_no_key_keeps_the_cache(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    with store.transaction():
        store.insert_key(make_key(5))
    cached = store.get_key(make_key(5).key_id, REGION)
    assert cached is not None and store.get_key(make_key(5).key_id, REGION) is cached  # the same object: cached
    # The sweep's DELETE of expired sessions that finds none, and a key's last-use record, outdate no key.
    with store.transaction():
        assert store.delete_sessions_expired_before(make_key(5).creation_date) == 0
    store.record_key_use(make_key(5).key_id, REGION, "Encrypt", make_key(5).creation_date, "request-1")
    assert store.get_key(make_key(5).key_id, REGION) is cached
    # A commit that changed a row empties it, as before.
    with store.transaction():
        store.update_key(dataclasses.replace(make_key(5), description="changed"))
    changed = store.get_key(make_key(5).key_id, REGION)
    assert changed is not cached and changed is not None and changed.description == "changed"


@contextmanager
def writer_held(store: SqliteStore) -> Iterator[None]:
    """Another thread of this process holds ``store``'s writer (as the audit trail's batch does) for the block."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.bookkeeping_transaction():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        holder.join()


def test_while_another_thread_writes_the_cache_answers_within_the_bound(
    stores: tuple[SqliteStore, SqliteStore], ticks: Ticks
) -> None:
    """A long write on another thread (the audit trail's batch) holds the writer: the check cannot run, and the
    cache answers on for BUSY_WRITER_SECONDS (within DESIGN's second), then the database is read."""
    store, other = stores
    with store.transaction():
        store.insert_key(make_key(6))
    cached = store.get_key(make_key(6).key_id, REGION)
    renamed = dataclasses.replace(make_key(6), description="changed by another node")
    with other.transaction():
        other.update_key(renamed)
    with writer_held(store):
        ticks.seconds += (KEY_CACHE_CHECK_SECONDS + BUSY_WRITER_SECONDS) / 2
        assert store.get_key(renamed.key_id, REGION) is cached  # the check would wait: the cache answers
        ticks.seconds += BUSY_WRITER_SECONDS
        assert store.get_key(renamed.key_id, REGION) == renamed  # past the bound: read from the database


def test_own_commits_do_not_read_as_another_process_change_while_the_writer_is_busy(
    stores: tuple[SqliteStore, SqliteStore], ticks: Ticks
) -> None:
    """The event loop's check (wait=False) finds the writer busy after each of this process's audit batches: the
    watcher's move is then this process's own commit, not a reason to empty every cache."""
    store, other = stores
    assert store.changed_since_last_check() is False
    store.set_setting("own", "1")  # this process's own commit
    with writer_held(store):
        assert store.changed_since_last_check(wait=False) is False
    assert store.changed_since_last_check(wait=False) is False  # the writer is free again: the exact check agrees
    assert other.get_setting("own") == "1"


def test_another_process_commit_is_reported_at_once_or_when_mixed_with_own_commits_within_the_bound(
    stores: tuple[SqliteStore, SqliteStore], ticks: Ticks
) -> None:
    store, other = stores
    assert store.changed_since_last_check() is False
    other.set_setting("foreign", "0")
    with writer_held(store):
        assert store.changed_since_last_check(wait=False) is True  # no own commit since: reported at once
    other.set_setting("foreign", "1")
    store.set_setting("own", "1")  # the watcher cannot tell the two apart
    with writer_held(store):
        assert store.changed_since_last_check(wait=False) is False  # not yet confirmed ...
        ticks.seconds += BUSY_WRITER_SECONDS
        assert store.changed_since_last_check(wait=False) is True  # ... reported within the bound
    other.set_setting("foreign", "2")
    store.set_setting("own", "2")
    with writer_held(store):
        assert store.changed_since_last_check(wait=False) is False
    assert store.changed_since_last_check(wait=False) is True  # the writer is free: the exact check sees it
