"""The store's record of each key's last use (GetKeyLastUsage): migration 7, the upsert, and the cascade on purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.store.records import REGION, T0, insert_key_at_version, key_id, make_key

import kmsd.store.sqlite.store as sqlite_module
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.sqlite import SqliteStore


def test_keys_older_than_tracking_get_its_start_and_newer_ones_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kmsd.db"
    with monkeypatch.context() as patched:
        patched.setattr(sqlite_module, "LATEST_VERSION", 6)
        old = SqliteStore(path)
        try:
            insert_key_at_version(old, 6, make_key(1))
        finally:
            old.close()
    before = datetime.now(UTC) - timedelta(seconds=1)
    store = SqliteStore(path)
    try:
        assert store.schema_version() == LATEST_VERSION >= 7
        record = store.get_key_last_usage(key_id(1), REGION)
        assert record is not None and record.operation is None and record.used_at is None
        assert record.tracking_started_at is not None
        assert before <= record.tracking_started_at <= datetime.now(UTC) + timedelta(seconds=1)
        store.insert_key(make_key(2))
        assert store.get_key_last_usage(key_id(2), REGION) is None
    finally:
        store.close()


def test_the_latest_use_is_kept_and_goes_with_its_key(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
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
    finally:
        store.close()
