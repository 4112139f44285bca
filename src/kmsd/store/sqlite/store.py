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
another ``SqliteStore`` on the same file.  While a call holds the writer, a
check that must not wait (the event loop's) asks a *watcher* connection that
only reads ``data_version``: it counts this store's own commits too, so it
may report a change that is not foreign, never miss one that is (``kmsd
serve --workers`` checks on every request; docs/architecture.md).

Key cache.  Every KMS call reads its key, so :meth:`SqliteStore.get_key`
keeps the records it read (outside a transaction) in memory.  The end of
every transaction of this store that changed a row (other than a last-use
record) or failed empties the cache, and a read that was under
way meanwhile does not fill it (a generation counter), so this process never
sees a key older than its own last commit.  Another process's commits empty
it when :meth:`SqliteStore.changed_since_last_check` sees them, and
``get_key`` itself asks ``data_version`` at least every
``KEY_CACHE_CHECK_SECONDS``, so a foreign change to a key is seen within
that bound even by a store nobody asks about changes.  A thread inside its
own transaction always reads the database (its uncommitted writes count).

Deletion.  A purged key's wrapped material must not be recoverable from
the files (AWS: deletion is irreversible).  Every connection sets
``PRAGMA secure_delete = ON``, so a deleted row is overwritten with zeros in
its page instead of lingering in free space, and after the commit of a
transaction that deleted a key, the writer runs ``wal_checkpoint(TRUNCATE)``:
the zeroed pages reach the database file and the WAL, which still held the
row's earlier page images, is cut to zero bytes.  ``tests/integration``
scans the bytes of ``kmsd.db``, ``-wal`` and ``-shm`` for the material after a purge.

Errors.  Every ``sqlite3`` error leaves as :class:`StoreError`; a uniqueness
violation on insert (or an IAM rename onto a name already taken, in any case)
leaves as :class:`Conflict`; a write naming a record that does not exist (a
member of an unknown group, a version of an unknown policy) is a plain
:class:`StoreError`.  The schema and its rules (case-insensitive IAM names,
cascades) are described in ``migrations.py``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from kmsd.store.base import StoreError
from kmsd.store.migrations import LATEST_VERSION, MIGRATIONS
from kmsd.store.sql.codec import decode_time, encode_time
from kmsd.store.sql.queries import SqlQueries
from kmsd.store.sql.snapshot import ReadSnapshot
from kmsd.store.sqlite.background_lease import FileLease
from kmsd.store.sqlite.connections import (
    BUSY_TIMEOUT_MS,
    BUSY_WRITER_SECONDS,
    KEY_CACHE_CHECK_SECONDS,
    ReaderSlot,
    SqliteConnections,
    connect,
)
from kmsd.store.sqlite.snapshot import sqlite_snapshot
from kmsd.store.table_rebuild import TableRebuild

__all__ = ["BUSY_TIMEOUT_MS", "KEY_CACHE_CHECK_SECONDS", "SqliteStore", "decode_time", "encode_time"]


class SqliteStore(SqliteConnections, SqlQueries):
    """The Store protocol on one SQLite file; safe to share between threads and processes."""

    # A check is a query on the writer connection (data_version): one process alone asks at most every 0.1 s,
    # and kmsd serve --workers asks on every request (read-your-writes across workers).
    change_check_interval = KEY_CACHE_CHECK_SECONDS

    def __init__(self, path: Path | str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        """Open (creating and migrating) the store at ``path``.

        ``monotonic`` is the clock of the key cache's ``KEY_CACHE_CHECK_SECONDS`` bound; tests pass
        their own to step past it instead of sleeping.
        """
        self.path = Path(path)
        self._monotonic = monotonic
        if str(path) in ("", ":memory:"):
            # Every thread's reader would get its own empty in-memory database.
            raise StoreError("an in-memory SQLite store is not supported: give a file path")
        self._lock = threading.Lock()
        self._owner: int | None = None  # thread ident holding the open transaction
        self._doomed = False
        self._local = threading.local()
        self._readers: weakref.WeakSet[ReaderSlot] = weakref.WeakSet()
        self._closed = False
        self._init_key_cache()
        self._key_cache_data_version: int | None = None  # the writer's data_version the cache is valid for
        self._key_cache_checked_at = monotonic()
        self._scrub_requested = False
        self._scrub_pending = False
        self._changed_rows = False
        self._commits = 0
        self._background_lease = FileLease(self.path.with_name(self.path.name + ".sweep-lock"))
        self._create_private_file()
        try:
            self._writer = connect(str(self.path), query_only=False)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
        try:
            self._enable_wal()
            self._migrate()
            self._seen_data_version = self._data_version(self._writer)
            self._key_cache_data_version = self._seen_data_version
            # A connection of its own for changed_since_last_check while a store call holds the writer (see
            # there): it only reads data_version, so it never waits for a lock.
            self._watcher = connect(str(self.path), query_only=True)
            self._watcher_lock = threading.Lock()
            self._watcher_seen = self._data_version(self._watcher)
            self._watcher_commits = self._commits
            self._unconfirmed_since: float | None = None
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
        # Switching a fresh file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once,
        # without its busy handler, while another process that opened the file first holds the lock for
        # its migration (still in rollback-journal mode): wait for that here, up to the busy timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                mode = self._writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if not error.sqlite_errorname.startswith("SQLITE_BUSY") or time.monotonic() >= deadline:
                    raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
                time.sleep(0.01)
            except sqlite3.Error as error:
                raise StoreError(f"cannot open the SQLite store at {self.path}: {error}") from error
        if str(mode).lower() != "wal":
            raise StoreError(
                f"the SQLite store at {self.path} cannot use WAL journal mode (got `{mode}`); "
                "network file systems do not support it"
            )

    def _migrate(self) -> None:
        """Apply the migrations this file lacks, all in one transaction.

        A :class:`~kmsd.store.table_rebuild.TableRebuild` among them is SQLite's twelve-step procedure: foreign
        keys are turned off outside the transaction (a dropped table would otherwise take the rows that refer
        to it along, by cascade), and ``foreign_key_check`` must find every reference intact before the commit.
        """
        rebuilds = any(isinstance(MIGRATIONS[version - 1], TableRebuild) for version in self._pending_versions())
        if rebuilds:
            self._execute_control("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction():
                applied = self._pending_versions()
                for version in applied:
                    try:
                        for statement in MIGRATIONS[version - 1]:
                            self._writer.execute(statement)
                        # PRAGMA takes no bound parameters; version is an int from range().
                        self._writer.execute(f"PRAGMA user_version = {version}")
                    except sqlite3.Error as error:
                        raise StoreError(
                            f"migrating the SQLite store at {self.path} to schema version {version} failed: {error}"
                        ) from error
                if rebuilds and applied:
                    self._check_foreign_keys()
        finally:
            if rebuilds:
                self._execute_control("PRAGMA foreign_keys = ON")

    def _pending_versions(self) -> range:
        """The versions to apply: read again inside the transaction, as another process may have migrated."""
        try:
            current = int(self._writer.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as error:
            raise StoreError(f"cannot read the schema version of {self.path}: {error}") from error
        if current > LATEST_VERSION:
            raise StoreError(
                f"the SQLite store at {self.path} has schema version {current}, newer than the "
                f"{LATEST_VERSION} this kmsd knows: upgrade kmsd to open it"
            )
        return range(current + 1, LATEST_VERSION + 1)

    def _check_foreign_keys(self) -> None:
        try:
            broken = self._writer.execute("PRAGMA foreign_key_check").fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"checking the foreign keys of {self.path} failed: {error}") from error
        if broken:
            tables = ", ".join(sorted({str(row[0]) for row in broken}))
            raise StoreError(f"migrating the SQLite store at {self.path} left rows of {tables} without their key")

    # --- lifecycle -------------------------------------------------------------

    def schema_version(self) -> int:
        row = self._fetchone("PRAGMA user_version")
        assert row is not None
        return int(row[0])

    def ping(self) -> bool:
        try:
            return self._fetchone("PRAGMA user_version") is not None
        except StoreError:
            return False

    def read_snapshot(self) -> AbstractContextManager[ReadSnapshot]:
        """A consistent read-only view of the whole file (``kmsd store copy``), on a connection of its own."""
        return sqlite_snapshot(self.path)

    def changed_since_last_check(self, *, wait: bool = True) -> bool:
        # The watcher is read first: a commit before this read that the writer's check below misses cannot
        # exist (the writer's check comes later), so when the writer is free its exact answer stands, and the
        # watcher's reading is only the baseline for the next check that finds the writer busy.
        watcher_moved, own_commits = self._watcher_moved()
        if self._owner == threading.get_ident():
            return self._data_version_changed()
        # wait=False (the event loop) must not queue behind a writer that may run a long call.  The watcher then
        # answers instead, but it also counts this process's own commits (from the writer, not the watcher): when
        # none happened since its last reading, its move is another process's commit, reported at once.  When one
        # did (the audit trail's batches, every fraction of a second under load), the move may be only that: the
        # change waits for the next exact check, or for BUSY_WRITER_SECONDS if the writer stays busy, rather than
        # empty every cache of this process after each batch.  It is never lost: the writer's data_version, read
        # by the exact check, has every other process's commit since the last exact check.
        if not self._lock.acquire(blocking=wait):
            now = self._monotonic()
            if watcher_moved and not own_commits:
                return self._report_unconfirmed()
            if watcher_moved and self._unconfirmed_since is None:
                self._unconfirmed_since = now
            if self._unconfirmed_since is not None and now - self._unconfirmed_since >= BUSY_WRITER_SECONDS:
                return self._report_unconfirmed()
            return False
        try:
            self._unconfirmed_since = None
            return self._data_version_changed()
        finally:
            self._lock.release()

    def _report_unconfirmed(self) -> bool:
        """Report the watcher's move as a change (the writer is busy): empty the key cache, as the exact check would."""
        self._unconfirmed_since = None
        self._forget_cached_keys()
        return True

    def _watcher_moved(self) -> tuple[bool, bool]:
        """Whether the watcher's data_version moved since its last reading (any commit not its own: all), and whether
        this store committed meanwhile (so that the move may be its own)."""
        with self._watcher_lock:
            # Read before the version: a commit counted here happened before the reading below.
            commits = self._commits
            version = self._data_version(self._watcher)
            moved = version != self._watcher_seen
            own = commits != self._watcher_commits
            self._watcher_seen, self._watcher_commits = version, commits
            return moved, own

    def _data_version_changed(self) -> bool:
        """Whether data_version moved since the last check; the caller holds the writer."""
        version = self._data_version(self._writer)
        changed = version != self._seen_data_version
        self._seen_data_version = version
        self._note_data_version(version)
        return changed

    def try_hold_background_lease(self) -> bool:
        try:
            return self._background_lease.try_hold()
        except OSError as error:
            raise StoreError(f"cannot take the background lease beside {self.path}: {error}") from error

    def close(self) -> None:
        self._background_lease.release()
        with self._holding_writer() as writer:
            self._closed = True
            for slot in list(self._readers):
                slot.connection.close()
            watcher = getattr(self, "_watcher", None)  # absent when opening failed before it was made
            if watcher is not None:
                with self._watcher_lock:
                    watcher.close()
            writer.close()
