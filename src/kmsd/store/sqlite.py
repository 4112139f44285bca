"""The :class:`~kmsd.store.base.Store` on one SQLite file, for a single node (several processes may share it).

Durability.  The file runs in WAL journal mode with ``synchronous=NORMAL``.
A commit appends the transaction to the ``-wal`` file with ``write()`` before
``COMMIT`` returns; the WAL is fsynced only at checkpoints.  The contract
kmsd offers is "a key acknowledged to the client survives ``kill -9`` of the
server": once ``write()`` returned, the data is in the operating system's page
cache and outlives the process, so NORMAL is enough (``tests/store`` kills a
writer with SIGKILL right after its commit and reopens the file).  A power
loss may lose the last commits but never corrupts the file; ``synchronous=FULL``
would be the setting for that stronger promise, at an fsync per commit.

Concurrency.  ``busy_timeout`` lets another process (``kmsd accounts create``
next to a running server) wait for the write lock instead of failing.  Inside
this process the store is used from the event loop thread and from worker
threads.  All writes go through one *writer* connection, serialised by a
lock and wrapped in ``BEGIN IMMEDIATE`` by :meth:`SqliteStore.transaction`;
reads outside a transaction use a per-thread, ``query_only`` *reader*
connection, so they never wait for the lock and never see another thread's
uncommitted writes, while a thread inside its own transaction reads through
the writer and sees its own writes.  Measured against the alternative (one
connection for everything, behind the same lock) on the 2-core build machine,
Python 3.11, SQLite 3.40, 1 000 keys, lookups drawn from ``get_key`` /
``get_key_material`` / ``get_access_key`` (median of 5 runs; last column one 2-second run):

==========================  ========  =========  ===============================
lookups per second          1 thread  4 threads  2 readers + 1 writer, while
                                                 another process holds the
                                                 write lock 50 ms in every 100
==========================  ========  =========  ===============================
one connection + lock       52 000    32 000     13 600/s, slowest read 79 ms
reader per thread (kept)    58 000    24 000     29 200/s, slowest read 8 ms
==========================  ========  =========  ===============================

Four threads on two cores lose to the GIL either way (``sqlite3`` releases it
around every step); the single connection suffers less from that convoy, but
every read must then wait behind any write transaction of this process,
including one that sits in ``busy_timeout`` for another process, which stalls
the event loop.  The reader-per-thread design is faster where the server
spends its time (one thread, or reads next to writes) and never makes a read
wait for a write.

Change detection.  ``PRAGMA data_version`` on a connection changes when
*another* connection commits and "is unchanged for commits made on the same
database connection" (sqlite.org/pragma.html#pragma_data_version; checked by
hand on SQLite 3.40 and by ``tests/store``; a rollback elsewhere changes nothing).
Because every write of this store goes through the writer connection, asking
the writer tells exactly "someone else committed": another process, or
another ``SqliteStore`` on the same file.

Errors.  Every ``sqlite3`` error leaves as :class:`StoreError`; a uniqueness
violation on insert leaves as :class:`Conflict`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmsd.store.base import Conflict, StoreError
from kmsd.store.migrations import LATEST_VERSION, MIGRATIONS
from kmsd.store.models import AccessKeyRecord, Account, AliasRecord, KeyMaterialRecord, KeyRecord

BUSY_TIMEOUT_MS = 10_000

_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})

_KEY_COLUMNS = (
    "key_id, account_id, region, description, key_usage, key_spec, origin, key_state, creation_date, "
    "policy, current_material_version, deletion_date, pending_deletion_window_days, rotation_enabled, "
    "rotation_period_days, next_rotation_date, multi_region, tags"
)
_KEY_PLACEHOLDERS = ", ".join("?" * 18)
_KEY_UPDATE = ", ".join(f"{column.strip()} = ?" for column in _KEY_COLUMNS.split(",")[1:])
_MATERIAL_COLUMNS = "key_id, version, material_id, wrapped_material, created_at, rotation_type"
_ALIAS_COLUMNS = "account_id, region, alias_name, target_key_id, creation_date, last_updated_date"
_ACCESS_KEY_COLUMNS = "access_key_id, account_id, principal_arn, wrapped_secret, status, created_at"

Row = tuple[Any, ...]


def encode_time(value: datetime) -> str:
    """The stored form: UTC, microseconds, fixed width, so that text order is time order."""
    if value.tzinfo is None:
        # A naive datetime would be read as local time and silently shift; records promise aware UTC.
        raise StoreError(f"naive datetime `{value.isoformat()}`: the store needs timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _encode_optional_time(value: datetime | None) -> str | None:
    return None if value is None else encode_time(value)


def _decode_optional_time(text: str | None) -> datetime | None:
    return None if text is None else decode_time(text)


def _key_to_row(key: KeyRecord) -> Row:
    return (
        key.key_id,
        key.account_id,
        key.region,
        key.description,
        key.key_usage,
        key.key_spec,
        key.origin,
        key.key_state,
        encode_time(key.creation_date),
        key.policy,
        key.current_material_version,
        _encode_optional_time(key.deletion_date),
        key.pending_deletion_window_days,
        int(key.rotation_enabled),
        key.rotation_period_days,
        _encode_optional_time(key.next_rotation_date),
        int(key.multi_region),
        json.dumps(key.tags, ensure_ascii=False, separators=(",", ":")),
    )


def _key_from_row(row: Row) -> KeyRecord:
    return KeyRecord(
        key_id=row[0],
        account_id=row[1],
        region=row[2],
        description=row[3],
        key_usage=row[4],
        key_spec=row[5],
        origin=row[6],
        key_state=row[7],
        creation_date=decode_time(row[8]),
        policy=row[9],
        current_material_version=row[10],
        deletion_date=_decode_optional_time(row[11]),
        pending_deletion_window_days=row[12],
        rotation_enabled=bool(row[13]),
        rotation_period_days=row[14],
        next_rotation_date=_decode_optional_time(row[15]),
        multi_region=bool(row[16]),
        tags=json.loads(row[17]),
    )


def _material_from_row(row: Row) -> KeyMaterialRecord:
    return KeyMaterialRecord(
        key_id=row[0],
        version=row[1],
        material_id=row[2],
        wrapped_material=bytes(row[3]),
        created_at=decode_time(row[4]),
        rotation_type=row[5],
    )


def _alias_from_row(row: Row) -> AliasRecord:
    return AliasRecord(
        account_id=row[0],
        region=row[1],
        alias_name=row[2],
        target_key_id=row[3],
        creation_date=decode_time(row[4]),
        last_updated_date=decode_time(row[5]),
    )


def _access_key_from_row(row: Row) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key_id=row[0],
        account_id=row[1],
        principal_arn=row[2],
        wrapped_secret=bytes(row[3]),
        status=row[4],
        created_at=decode_time(row[5]),
    )


def _connect(path: str, *, query_only: bool) -> sqlite3.Connection:
    # isolation_level=None: the store issues BEGIN/COMMIT itself instead of the module's implicit ones.
    # check_same_thread=False: the writer is shared under a lock, and close() may run on any thread.
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = NORMAL")
        if query_only:
            # A reader that wrote would make its commits invisible to the writer's data_version.
            connection.execute("PRAGMA query_only = ON")
    except BaseException:
        connection.close()
        raise
    return connection


class _ReaderSlot:
    """One thread's reader connection, closed when the thread ends (its thread-local slot is collected)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        weakref.finalize(self, connection.close)


class SqliteStore:
    """The Store protocol on one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) in ("", ":memory:"):
            # Every thread's reader would get its own empty in-memory database.
            raise StoreError("an in-memory SQLite store is not supported: give a file path")
        self._lock = threading.Lock()
        self._owner: int | None = None  # thread ident holding the open transaction
        self._doomed = False
        self._local = threading.local()
        self._readers: weakref.WeakSet[_ReaderSlot] = weakref.WeakSet()
        self._closed = False
        self._create_private_file()
        try:
            self._writer = _connect(str(self.path), query_only=False)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
        try:
            self._enable_wal()
            self._migrate()
            self._seen_data_version = self._data_version(self._writer)
        except BaseException:
            self.close()
            raise

    def _create_private_file(self) -> None:
        # The file holds wrapped secrets and key policies: owner-only from the start.  SQLite
        # gives the -wal and -shm files the database file's permissions.
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as error:
            raise StoreError(f"cannot create the SQLite store at {self.path}: {error}") from error
        os.close(descriptor)

    def _enable_wal(self) -> None:
        try:
            mode = self._writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
        if str(mode).lower() != "wal":
            raise StoreError(
                f"the SQLite store at {self.path} cannot use WAL journal mode (got `{mode}`); "
                "network file systems do not support it"
            )

    def _migrate(self) -> None:
        with self.transaction():
            try:
                current = int(self._writer.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.Error as error:
                raise StoreError(f"cannot read the schema version of {self.path}: {error}") from error
            if current > LATEST_VERSION:
                raise StoreError(
                    f"the SQLite store at {self.path} has schema version {current}, newer than the "
                    f"{LATEST_VERSION} this kmsd knows: upgrade kmsd to open it"
                )
            for version in range(current + 1, LATEST_VERSION + 1):
                try:
                    for statement in MIGRATIONS[version - 1]:
                        self._writer.execute(statement)
                    # PRAGMA takes no bound parameters; version is an int from range().
                    self._writer.execute(f"PRAGMA user_version = {version}")
                except sqlite3.Error as error:
                    raise StoreError(
                        f"migrating the SQLite store at {self.path} to schema version {version} "
                        f"failed: {error}"
                    ) from error

    # --- connections ---------------------------------------------------------

    def _read_connection(self) -> sqlite3.Connection:
        if self._owner == threading.get_ident():
            return self._writer
        try:
            slot: _ReaderSlot = self._local.slot
        except AttributeError:
            return self._open_reader()
        return slot.connection

    def _open_reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        slot = _ReaderSlot(_connect(str(self.path), query_only=True))
        self._local.slot = slot
        self._readers.add(slot)
        return slot.connection

    def _fetchone(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        try:
            cursor = self._read_connection().execute(sql, parameters)
            try:
                row: Row | None = cursor.fetchone()
            finally:
                # A statement left unfinished keeps the reader's WAL snapshot open, and every
                # later read on this thread would miss newer commits.
                cursor.close()
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error
        return row

    def _fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        try:
            rows: list[Row] = self._read_connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error
        return rows

    def _write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        """Run one statement in the caller's transaction, or in one of its own; the number of rows changed.

        A constraint violation aborts just its statement, so a Conflict raised here leaves
        the caller's transaction usable: ``except Conflict`` may carry on.  Other errors (disk
        full, I/O) may make SQLite roll the whole transaction back by itself; the transaction
        is then doomed, so that later statements cannot commit one by one in autocommit mode.
        """
        if self._owner != threading.get_ident():
            with self.transaction():
                return self._execute_write(sql, parameters, what)
        if self._doomed or not self._writer.in_transaction:
            self._doomed = True
            raise StoreError(f"{what}: the transaction was already rolled back after an error")
        return self._execute_write(sql, parameters, what)

    def _execute_write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        try:
            return self._writer.execute(sql, parameters).rowcount
        except sqlite3.IntegrityError as error:
            if error.sqlite_errorname in _UNIQUE_VIOLATIONS:
                raise Conflict(f"{what} already exists") from error
            if error.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise StoreError(f"{what} refers to a record that does not exist") from error
            raise StoreError(f"{what}: {error}") from error
        except sqlite3.Error as error:
            self._doomed = True
            raise StoreError(f"{what}: {error}") from error

    @contextmanager
    def _holding_writer(self) -> Iterator[sqlite3.Connection]:
        """The writer connection, for this thread alone, without opening a transaction."""
        if self._owner == threading.get_ident():
            yield self._writer
            return
        with self._lock:
            yield self._writer

    # --- lifecycle -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything in the block together, or nothing.

        Nested blocks join the outermost one.  Any exception rolls the whole
        transaction back, even one that an outer block catches: the outermost
        block then raises StoreError instead of committing half of the work.
        The transaction belongs to the calling thread, so a block must not
        ``await``: another coroutine on the event loop would join it.
        """
        me = threading.get_ident()
        if self._owner == me:
            try:
                yield
            except BaseException:
                self._doomed = True
                raise
            return
        with self._lock:
            self._execute_control("BEGIN IMMEDIATE")
            self._owner = me
            self._doomed = False
            try:
                try:
                    yield
                except BaseException:
                    self._rollback()
                    raise
                if self._doomed:
                    self._rollback()
                    raise StoreError(
                        "rolled back: an error inside the transaction was caught before the outermost block"
                    )
                try:
                    self._writer.execute("COMMIT")
                except sqlite3.Error as error:
                    self._rollback()
                    raise StoreError(f"commit failed: {error}") from error
            finally:
                self._owner = None
                self._doomed = False

    def _execute_control(self, sql: str) -> None:
        try:
            self._writer.execute(sql)
        except sqlite3.Error as error:
            raise StoreError(f"{sql} failed on {self.path}: {error}") from error

    def _rollback(self) -> None:
        # The rollback must not hide the exception that caused it; a failed one (no
        # transaction left open, or a closed connection) has nothing more to undo.
        with suppress(sqlite3.Error):
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")

    def schema_version(self) -> int:
        row = self._fetchone("PRAGMA user_version")
        assert row is not None
        return int(row[0])

    def ping(self) -> bool:
        try:
            return self._fetchone("PRAGMA user_version") is not None
        except StoreError:
            return False

    @staticmethod
    def _data_version(writer: sqlite3.Connection) -> int:
        try:
            return int(writer.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error

    def changed_since_last_check(self) -> bool:
        with self._holding_writer() as writer:
            version = self._data_version(writer)
            changed = version != self._seen_data_version
            self._seen_data_version = version
        return changed

    def close(self) -> None:
        with self._holding_writer() as writer:
            self._closed = True
            for slot in list(self._readers):
                slot.connection.close()
            writer.close()

    # --- settings ----------------------------------------------------------------

    def get_setting(self, name: str) -> str | None:
        row = self._fetchone("SELECT value FROM settings WHERE name = ?", (name,))
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
            f"setting `{name}`",
        )

    # --- accounts and access keys ------------------------------------------------------

    def create_account(self, account: Account) -> None:
        self._write(
            "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)",
            (account.account_id, encode_time(account.created_at)),
            f"account `{account.account_id}`",
        )

    def get_account(self, account_id: str) -> Account | None:
        row = self._fetchone(
            "SELECT account_id, created_at FROM accounts WHERE account_id = ?", (account_id,)
        )
        return None if row is None else Account(account_id=row[0], created_at=decode_time(row[1]))

    def list_accounts(self) -> list[Account]:
        rows = self._fetchall("SELECT account_id, created_at FROM accounts ORDER BY account_id")
        return [Account(account_id=row[0], created_at=decode_time(row[1])) for row in rows]

    def put_access_key(self, key: AccessKeyRecord) -> None:
        self._write(
            f"INSERT INTO access_keys ({_ACCESS_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (access_key_id) DO UPDATE SET account_id = excluded.account_id, "
            "principal_arn = excluded.principal_arn, wrapped_secret = excluded.wrapped_secret, "
            "status = excluded.status, created_at = excluded.created_at",
            (
                key.access_key_id,
                key.account_id,
                key.principal_arn,
                key.wrapped_secret,
                key.status,
                encode_time(key.created_at),
            ),
            f"access key `{key.access_key_id}`",
        )

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        row = self._fetchone(
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?", (access_key_id,)
        )
        return None if row is None else _access_key_from_row(row)

    def list_access_keys(self, account_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = ? "
            "ORDER BY created_at, access_key_id",
            (account_id,),
        )
        return [_access_key_from_row(row) for row in rows]

    # --- KMS keys ------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        self._write(
            f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({_KEY_PLACEHOLDERS})",
            _key_to_row(key),
            f"key `{key.key_id}`",
        )

    def update_key(self, key: KeyRecord) -> None:
        row = _key_to_row(key)
        changed = self._write(
            f"UPDATE keys SET {_KEY_UPDATE} WHERE key_id = ?", (*row[1:], row[0]), f"key `{key.key_id}`"
        )
        if changed == 0:
            raise StoreError(f"key `{key.key_id}` cannot be updated: it is not stored")

    def get_key(self, key_id: str) -> KeyRecord | None:
        row = self._fetchone(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_id = ?", (key_id,))
        return None if row is None else _key_from_row(row)

    def list_keys(
        self, account_id: str, region: str, after_key_id: str | None, limit: int
    ) -> list[KeyRecord]:
        if limit < 0:
            raise StoreError(f"list_keys limit must not be negative, got {limit}")
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE account_id = ? AND region = ? AND key_id > ? "
            "ORDER BY key_id LIMIT ?",
            (account_id, region, after_key_id or "", limit),
        )
        return [_key_from_row(row) for row in rows]

    def delete_key(self, key_id: str) -> None:
        """Remove the key, its material and its aliases (by foreign-key cascade); no-op when absent."""
        self._write("DELETE FROM keys WHERE key_id = ?", (key_id,), f"key `{key_id}`")

    def keys_pending_deletion_before(self, when: datetime) -> list[KeyRecord]:
        """Keys in PendingDeletion whose deletion date is at or before ``when``, soonest first."""
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= ? "
            "ORDER BY deletion_date, key_id",
            (encode_time(when),),
        )
        return [_key_from_row(row) for row in rows]

    def keys_due_for_rotation(self, when: datetime) -> list[KeyRecord]:
        """Keys with rotation enabled whose next rotation date is at or before ``when``, soonest first.

        Whatever their key state: AWS rotates a disabled key when it is re-enabled
        if the date has passed, so that decision belongs to the KMS service.
        """
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE rotation_enabled = 1 AND next_rotation_date <= ? "
            "ORDER BY next_rotation_date, key_id",
            (encode_time(when),),
        )
        return [_key_from_row(row) for row in rows]

    # --- key material ---------------------------------------------------------------

    def add_key_material(self, material: KeyMaterialRecord) -> None:
        self._write(
            f"INSERT INTO key_materials ({_MATERIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                material.key_id,
                material.version,
                material.material_id,
                material.wrapped_material,
                encode_time(material.created_at),
                material.rotation_type,
            ),
            f"key material version {material.version} of key `{material.key_id}`",
        )

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None:
        row = self._fetchone(
            f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? AND version = ?",
            (key_id, version),
        )
        return None if row is None else _material_from_row(row)

    def list_key_materials(self, key_id: str) -> list[KeyMaterialRecord]:
        rows = self._fetchall(
            f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? ORDER BY version", (key_id,)
        )
        return [_material_from_row(row) for row in rows]

    # --- aliases ---------------------------------------------------------------------

    def insert_alias(self, alias: AliasRecord) -> None:
        self._write(
            f"INSERT INTO aliases ({_ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                alias.account_id,
                alias.region,
                alias.alias_name,
                alias.target_key_id,
                encode_time(alias.creation_date),
                encode_time(alias.last_updated_date),
            ),
            f"alias `{alias.alias_name}` in {alias.account_id}/{alias.region}",
        )

    def update_alias(self, alias: AliasRecord) -> None:
        """Point the stored alias (same account, region, name) at ``target_key_id``, with the given dates."""
        what = f"alias `{alias.alias_name}` in {alias.account_id}/{alias.region}"
        changed = self._write(
            "UPDATE aliases SET target_key_id = ?, creation_date = ?, last_updated_date = ? "
            "WHERE account_id = ? AND region = ? AND alias_name = ?",
            (
                alias.target_key_id,
                encode_time(alias.creation_date),
                encode_time(alias.last_updated_date),
                alias.account_id,
                alias.region,
                alias.alias_name,
            ),
            what,
        )
        if changed == 0:
            raise StoreError(f"{what} cannot be updated: it is not stored")

    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None:
        """Remove the alias; no-op when absent."""
        self._write(
            "DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
            f"alias `{alias_name}` in {account_id}/{region}",
        )

    def get_alias(self, account_id: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._fetchone(
            f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
        )
        return None if row is None else _alias_from_row(row)

    def list_aliases(self, account_id: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        if key_id is None:
            rows = self._fetchall(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? "
                "ORDER BY alias_name",
                (account_id, region),
            )
        else:
            rows = self._fetchall(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? "
                "AND target_key_id = ? ORDER BY alias_name",
                (account_id, region, key_id),
            )
        return [_alias_from_row(row) for row in rows]
