"""The connection machinery of :class:`~kmsd.store.sqlite.SqliteStore`: one writer connection behind a lock
with ``BEGIN IMMEDIATE`` transactions, a ``query_only`` reader per thread, the translation of ``sqlite3``
errors into :class:`~kmsd.store.base.StoreError` and :class:`~kmsd.store.base.Conflict`, and the key cache
that every commit and every foreign commit (seen through ``PRAGMA data_version``) empties.  Why it is built
this way is told in the docstring of :mod:`kmsd.store.sqlite.store`."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from time import perf_counter
from typing import Any

from kmsd.store.base import Conflict, StoreError
from kmsd.store.sql.codec import Row
from kmsd.store.sql.connections import SqlConnections

BUSY_TIMEOUT_MS = 10_000
# How long the WAL scrub after a purge waits for other processes' readers: they hold a snapshot for a
# statement's time, and the scrub runs on the event loop.  Later retries do not wait at all.
SCRUB_WAIT_MS = 1_000
# How stale a cached key may be after another process changed it; DESIGN.md allows a second.
KEY_CACHE_CHECK_SECONDS = 0.1
# While another thread holds the writer (the audit trail's batch of events, a long write), the exact checks of other
# processes' commits cannot run without waiting: the key cache answers on, and a change a check cannot tell from this
# process's own commits waits to be confirmed, for at most this long after the last exact check (DESIGN.md: a second).
BUSY_WRITER_SECONDS = 0.5

_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def connect(path: str, *, query_only: bool) -> sqlite3.Connection:
    # isolation_level=None: the store issues BEGIN/COMMIT itself instead of the module's implicit ones.
    # check_same_thread=False: the writer is shared under a lock, and close() may run on any thread.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = NORMAL")
        # Deleted rows (a purged key's wrapped material) are overwritten with zeros, not left in free
        # space, whatever the SQLite build's default; the WAL is emptied after such deletes (_scrub_wal).
        connection.execute("PRAGMA secure_delete = ON")
        if query_only:
            # A reader that wrote would make its commits invisible to the writer's data_version.
            connection.execute("PRAGMA query_only = ON")
    except BaseException:
        connection.close()
        raise
    return connection


class ReaderSlot:
    """One thread's reader connection, closed when the thread ends (its thread-local slot is collected)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        weakref.finalize(self, connection.close)


class SqliteConnections(SqlConnections):
    """The writer, the readers and transactions on one SQLite file, for the query classes that make up SqliteStore."""

    # Set by SqliteStore.__init__, which also opens and migrates the file.
    path: Path
    _lock: threading.Lock
    _local: threading.local
    _readers: weakref.WeakSet[ReaderSlot]
    _closed: bool
    _key_cache_data_version: int | None
    _key_cache_checked_at: float
    _monotonic: Callable[[], float]  # time.monotonic, or a test's clock
    _writer: sqlite3.Connection
    _seen_data_version: int
    _changed_rows: bool  # a statement of the open transaction changed a row (its commit may outdate cached keys)
    _commits: int  # this store's own commits so far (they move the watcher's data_version too: store.py)
    _scrub_requested: bool  # this transaction deleted something that must not survive in the WAL
    _scrub_pending: bool  # committed such a delete; the WAL still holds it until a checkpoint completes

    # --- connections ---------------------------------------------------------

    def _read_connection(self) -> sqlite3.Connection:
        if self._owner == threading.get_ident():
            return self._writer
        try:
            slot: ReaderSlot = self._local.slot
        except AttributeError:
            return self._open_reader()
        return slot.connection

    def _open_reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        slot = ReaderSlot(connect(str(self.path), query_only=True))
        self._local.slot = slot
        self._readers.add(slot)
        return slot.connection

    def _fetchone(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        started = perf_counter()
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
        finally:
            self.counters.read(perf_counter() - started)
        return row

    def _fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        started = perf_counter()
        try:
            rows: list[Row] = self._read_connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error
        finally:
            self.counters.read(perf_counter() - started)
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
        started = perf_counter()
        try:
            rowcount: int = self._writer.execute(sql, parameters).rowcount
            if rowcount != 0:
                self._changed_rows = True
            return rowcount
        except sqlite3.IntegrityError as error:
            if error.sqlite_errorname in _UNIQUE_VIOLATIONS:
                raise Conflict(f"{what} already exists") from error
            if error.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise StoreError(f"{what} refers to a record that does not exist") from error
            raise StoreError(f"{what}: {error}") from error
        except sqlite3.Error as error:
            self._doomed = True
            raise StoreError(f"{what}: {error}") from error
        finally:
            self.counters.wrote(perf_counter() - started)

    @contextmanager
    def _holding_writer(self) -> Iterator[sqlite3.Connection]:
        """The writer connection, for this thread alone, without opening a transaction."""
        if self._owner == threading.get_ident():
            yield self._writer
            return
        with self._lock:
            yield self._writer

    # --- transactions ---------------------------------------------------------

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
            with self._joined():
                yield
            return
        with self._lock:
            self._execute_control("BEGIN IMMEDIATE")
            self._owner = me
            self._doomed = False
            self._changed_rows = False
            forget_keys = True
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
                started = perf_counter()
                try:
                    self._writer.execute("COMMIT")
                    self._commits += 1
                    self.counters.committed(perf_counter() - started)
                except sqlite3.Error as error:
                    self._rollback()
                    raise StoreError(f"commit failed: {error}") from error
                retry = self._scrub_pending and not self._scrub_requested
                self._scrub_pending = self._scrub_pending or self._scrub_requested
                # A commit that changed no row (the sweep's DELETE of expired sessions, most times) or only a
                # last-use record (_bookkeeping_write) outdates no cached key: keeping the cache spares the next
                # request on every cached key a read.
                forget_keys = self._changed_rows
            finally:
                # Otherwise, committed or not, a key read while the transaction was open may be outdated now.
                if forget_keys:
                    self._forget_cached_keys()
                self._owner = None
                self._doomed = False
                self._scrub_requested = False
            if self._scrub_pending:
                self._scrub_wal(wait=not retry)

    def _bookkeeping_write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        if self._owner == threading.get_ident():
            return self._write(sql, parameters, what)
        with self.transaction():
            count = self._write(sql, parameters, what)
            # A last-use record is held by no cache: its commit keeps this process's key cache.
            self._changed_rows = False
            return count

    def _keep_caches(self) -> None:
        self._changed_rows = False

    def _request_scrub(self) -> None:
        """Empty the WAL once the current transaction commits (the caller deletes secret material)."""
        self._scrub_requested = True

    def _scrub_wal(self, *, wait: bool) -> None:
        """Copy the WAL into the database and truncate it to zero bytes, taking deleted pages' old images with it.

        secure_delete zeroes a deleted row in the page written to the WAL, but earlier frames of that
        page (the row as inserted) stay in the WAL until it is reset.  ``wal_checkpoint(TRUNCATE)``
        waits up to ``SCRUB_WAIT_MS`` for readers of other processes; if one still holds an old snapshot
        the checkpoint is incomplete, and the scrub is retried after each later commit of this store,
        without waiting then, so that a reader left open elsewhere never slows every write down.
        """
        try:
            self._writer.execute(f"PRAGMA busy_timeout = {SCRUB_WAIT_MS if wait else 0}")
            try:
                busy = int(self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
            finally:
                self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error:
            # The delete is committed either way; a failed scrub is retried after the next commit.
            return
        self._scrub_pending = busy != 0

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

    @staticmethod
    def _data_version(writer: sqlite3.Connection) -> int:
        try:
            return int(writer.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as error:
            raise StoreError(str(error)) from error

    # --- key cache -------------------------------------------------------------

    def _note_data_version(self, version: int) -> None:
        """Empty the key cache if someone else committed since it was last checked."""
        self._key_cache_checked_at = self._monotonic()
        if version != self._key_cache_data_version:
            self._forget_cached_keys()
            self._key_cache_data_version = version

    def _key_cache_is_current(self) -> bool:
        """Whether the cache may answer: checked against other processes' commits recently enough."""
        since_check = self._monotonic() - self._key_cache_checked_at
        if since_check < KEY_CACHE_CHECK_SECONDS:
            return True
        # Another thread writing holds the writer: rather than wait (on the event loop), trust the cache a little
        # longer, then read the database.  Its transaction, once committed, empties the cache itself.
        if not self._lock.acquire(blocking=False):
            return since_check < BUSY_WRITER_SECONDS
        try:
            self._note_data_version(self._data_version(self._writer))
        finally:
            self._lock.release()
        return True
