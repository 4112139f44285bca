"""What only the SQLite store has: its file (WAL, permissions, schema), reader connections, the busy timeout,
migrating a fresh file from several processes, refusals of what is not a kmsd file, and durability under SIGKILL.

The Store contract runs on SQLite and PostgreSQL alike in ``test_store.py`` and its neighbours; files written by
older kmsd versions are migrated in ``test_sqlite_migrations.py``.
"""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.store.records import REGION, key_id, make_key

from kmsd.store.base import StoreError
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.sqlite import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "kmsd.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    yield opened
    opened.close()


# --- connections and locks ----------------------------------------------------------------------------------


def _open_descriptors_on(path: Path) -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith(str(path)):
                count += 1
        except OSError:
            continue
    return count


def test_reader_connections_of_finished_threads_are_closed(db_path: Path, store: SqliteStore) -> None:
    # Worker pools retire idle threads; their reader connections must not pile up.
    store.insert_key(make_key(1))
    before = _open_descriptors_on(db_path)
    for _ in range(30):
        reader = threading.Thread(target=store.get_key, args=(key_id(1), REGION))
        reader.start()
        reader.join()
    gc.collect()
    assert _open_descriptors_on(db_path) <= before + 1


def test_a_write_waits_for_another_process_holding_the_write_lock(db_path: Path, store: SqliteStore) -> None:
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO settings (name, value) VALUES ('holder', 'other')")
    holding = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    holding.start()
    try:
        store.set_setting("waiter", "store")
    finally:
        holding.join()
        other.close()
    assert store.get_setting("holder") == "other"
    assert store.get_setting("waiter") == "store"


# --- the file -----------------------------------------------------------------------------------------------


def test_a_fresh_file_is_migrated_to_the_latest_schema(db_path: Path, store: SqliteStore) -> None:
    assert store.schema_version() == LATEST_VERSION >= 3
    raw = sqlite3.connect(db_path)
    try:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"accounts", "access_keys", "keys", "key_materials", "aliases", "settings"} <= tables
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    finally:
        raw.close()
    assert os.stat(db_path).st_mode & 0o777 == 0o600


def test_a_fresh_file_has_the_grants_table_and_its_indexes(db_path: Path, store: SqliteStore) -> None:
    assert store.schema_version() == LATEST_VERSION >= 3
    raw = sqlite3.connect(db_path)
    try:
        indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'grants'")}
        assert {"grants", "grants_by_key", "grants_by_retiring_principal"} <= indexes
        plan = " ".join(
            str(row[3]) for row in raw.execute("EXPLAIN QUERY PLAN SELECT * FROM grants WHERE retiring_principal = 'x'")
        )
        assert "grants_by_retiring_principal" in plan
    finally:
        raw.close()


_OPENER = """
import sys
from kmsd.store.sqlite import SqliteStore

store = SqliteStore(sys.argv[1])
store.set_setting(sys.argv[2], "opened")
print(store.schema_version())
store.close()
"""


def test_processes_opening_a_fresh_file_at_once_migrate_it_once(db_path: Path) -> None:
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(db_path), f"opener-{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = [opener.communicate(timeout=60) for opener in openers]
    assert [(out.strip(), err) for out, err in results] == [(str(LATEST_VERSION), "")] * 4
    store = SqliteStore(db_path)
    try:
        assert [store.get_setting(f"opener-{n}") for n in range(4)] == ["opened"] * 4
    finally:
        store.close()


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    SqliteStore(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match=f"schema version {LATEST_VERSION + 1}, newer than"):
        SqliteStore(db_path)


def test_a_failing_migration_leaves_the_file_untouched(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE keys (unrelated TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError):
        SqliteStore(db_path)
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"keys"}
    finally:
        raw.close()


def test_a_file_that_is_not_a_database_is_refused(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a SQLite database, just some text " * 100)
    with pytest.raises(StoreError):
        SqliteStore(db_path)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot create"):
        SqliteStore(tmp_path / "absent" / "kmsd.db")


def test_in_memory_databases_are_refused() -> None:
    with pytest.raises(StoreError, match="in-memory"):
        SqliteStore(":memory:")


# --- durability -------------------------------------------------------------------------------------------

_WRITER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from kmsd.store.models import KeyRecord
from kmsd.store.sqlite import SqliteStore

store = SqliteStore(Path(sys.argv[1]))
with store.transaction():
    store.insert_key(KeyRecord(
        key_id=sys.argv[2], account_id="111122223333", region="us-east-1", description="survivor",
        key_usage="ENCRYPT_DECRYPT", key_spec="SYMMETRIC_DEFAULT", origin="AWS_KMS", key_state="Enabled",
        creation_date=datetime(2026, 1, 1, tzinfo=UTC), policy="{}", current_material_version=1,
    ))
print("committed", flush=True)
time.sleep(60)
"""


def test_a_committed_key_survives_sigkill_of_the_writer(db_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db_path), key_id(7)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "committed"
        os.kill(writer.pid, signal.SIGKILL)
        assert writer.wait(10) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()
    reopened = SqliteStore(db_path)
    try:
        survivor = reopened.get_key(key_id(7), REGION)
        assert survivor is not None
        assert survivor.description == "survivor"
    finally:
        reopened.close()
