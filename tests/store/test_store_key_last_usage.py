"""The store's record of each key's last use (GetKeyLastUsage), on SQLite and PostgreSQL: the upsert, and the
cascade on purge.  Migration 7, which began tracking, is tested on SQLite files in ``test_sqlite_migrations.py``."""

from __future__ import annotations

from datetime import timedelta

from tests.store.records import REGION, T0, key_id, make_key
from tests.store.store_kinds import AnyStore


def test_the_latest_use_is_kept_and_goes_with_its_key(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    later = T0 + timedelta(minutes=5)
    store.record_key_use(key_id(1), REGION, "Sign", later, "r2")
    # A use recorded late (out of order) does not replace a later one.
    store.record_key_use(key_id(1), REGION, "Encrypt", T0, "r1")
    record = store.get_key_last_usage(key_id(1), REGION)
    assert record is not None
    assert (record.operation, record.used_at, record.request_id) == ("Sign", later, "r2")
    # An unknown key: a no-op.
    store.record_key_use(key_id(9), REGION, "Encrypt", T0, "r3")
    assert store.get_key_last_usage(key_id(9), REGION) is None
    store.delete_key(key_id(1), REGION)
    assert store.get_key_last_usage(key_id(1), REGION) is None
