"""Deleting a key scrubs its wrapped material from the SQLite files: zeroed in the database, WAL truncated.

The integration test (tests/integration/test_security_store.py) does the same through a server; these
check the store's own rules: every connection has secure_delete on, the WAL is cut to zero bytes after the
commit (not before, not on rollback), and a reader in another process that blocks the checkpoint delays
the scrub to a later commit without making writes wait.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.store.records import REGION, make_key, make_material

from kmsd.store.sqlite import SqliteStore

SECRET = os.urandom(48)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "kmsd.db")
    yield opened
    opened.close()


def _stored_key(store: SqliteStore, n: int) -> str:
    key = make_key(n)
    with store.transaction():
        store.insert_key(key)
        store.add_key_material(replace(make_material(n), wrapped_material=SECRET + bytes([n])))
    return key.key_id


def _files_with_secret(store: SqliteStore) -> list[str]:
    found = []
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{store.path}{suffix}")
        if path.exists() and SECRET in path.read_bytes():
            found.append(path.name)
    return found


def test_every_connection_has_secure_delete_on(store: SqliteStore) -> None:
    assert store._writer.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert store._read_connection().execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_deleting_a_key_leaves_its_material_in_no_file(store: SqliteStore) -> None:
    key_id = _stored_key(store, 1)
    assert _files_with_secret(store) != []
    store.delete_key(key_id, REGION)
    assert _files_with_secret(store) == []
    assert Path(f"{store.path}-wal").stat().st_size == 0


def test_a_rolled_back_delete_scrubs_nothing_and_keeps_the_key(store: SqliteStore) -> None:
    key_id = _stored_key(store, 1)
    with pytest.raises(RuntimeError), store.transaction():
        store.delete_key(key_id, REGION)
        raise RuntimeError("abort")
    assert store.get_key_material(key_id, 1) is not None
    assert Path(f"{store.path}-wal").stat().st_size > 0
    assert store._scrub_pending is False


def test_a_reader_elsewhere_delays_the_scrub_to_a_later_commit(store: SqliteStore) -> None:
    key_id = _stored_key(store, 1)
    reader = sqlite3.connect(store.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM keys").fetchone()  # holds a snapshot that still has the row
        store.delete_key(key_id, REGION)
        assert store._scrub_pending is True
        started = time.monotonic()
        store.insert_key(make_key(2))  # a retry does not wait for the reader
        assert time.monotonic() - started < 0.5
        assert store._scrub_pending is True
        reader.execute("COMMIT")
    finally:
        reader.close()
    store.insert_key(make_key(3))
    assert store._scrub_pending is False
    assert _files_with_secret(store) == []
