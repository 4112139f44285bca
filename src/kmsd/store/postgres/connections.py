"""The connection machinery of :class:`~kmsd.store.postgres.PostgresStore`: a psycopg 3 pool, transactions that
every node serialises on one advisory lock, savepoints that keep a conflict from spoiling its transaction, and the
translation of the queries' ``?`` placeholders and of psycopg's errors.

Why one service-wide writer.  SQLite gives kmsd one writer at a time (``BEGIN IMMEDIATE``), and the services are
written for it: a call reads what it is about to change inside its transaction (the alias it is about to create,
the key it rotates, the grant name it checks, the user it deletes) and relies on nobody changing it meanwhile.
Under PostgreSQL's default READ COMMITTED isolation that read-then-write would race between nodes.  Every write
transaction therefore starts with ``pg_advisory_xact_lock`` on one lock id, which PostgreSQL holds until the
commit or rollback, on whichever node: the races of several nodes are settled by the database, in one order,
exactly as SQLite settles those of several processes, and each statement after the lock sees every commit
before it.  The cost is that writes do not run in parallel; kmsd's writes are administrative (CreateKey,
PutKeyPolicy, CreateGrant, IAM) and short, and the cryptographic calls that carry the load only read.

Conflicts.  A uniqueness violation aborts a PostgreSQL transaction as a whole, where SQLite aborts only the
statement; the query classes (and the services above them) may catch :class:`~kmsd.store.base.Conflict` and go
on, so every write inside a transaction runs under a savepoint that is rolled back on an integrity error.

Changes.  A transaction that wrote sends ``NOTIFY`` on :data:`CHANGES_CHANNEL`, with this store's own id as the
payload, in the transaction itself: PostgreSQL delivers it at the commit, to every listening node
(:mod:`kmsd.store.postgres.notifications`), and never for a rollback.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from time import perf_counter
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout, TooManyRequests

from kmsd.store.base import Conflict, StoreError
from kmsd.store.local_commits import LocalCommits
from kmsd.store.sql.codec import Row
from kmsd.store.sql.connections import SqlConnections

# Arbitrary, fixed 64-bit advisory lock ids (PostgreSQL shares one space per database).
WRITER_LOCK = 0x6B6D7364_00000001  # "kmsd", 1: held by every write transaction until it ends
MIGRATION_LOCK = 0x6B6D7364_00000002  # migrating the schema: one node at a time
BACKGROUND_LOCK = 0x6B6D7364_00000003  # the sweep (deletion windows, rotation, expiry): one node of the service
CHANGES_CHANNEL = "kmsd_changes"


@functools.lru_cache(maxsize=1024)
def placeholders(sql: str) -> str:
    """The query with ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled).

    The queries hold no ``?`` or ``%`` inside string literals (they are kmsd's own constants); the cache keeps
    the rewrite off the request path.
    """
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresConnections(SqlConnections):
    """A pool of connections and the current thread's transaction, for the query classes of PostgresStore."""

    NOCASE_EQUALS = "lower({column}) = lower(?)"

    # Set by PostgresStore.__init__.
    _pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]]
    _lock: threading.Lock  # one transaction of this process at a time, as the SQLite store's writer
    _transaction_connection: psycopg.Connection[tuple[Any, ...]] | None
    _wrote: bool  # the open transaction changed something other nodes must hear of
    _store_id: str  # this store's payload in change notifications (its own are not news to it)
    _local_commits: LocalCommits | None  # shared with the other workers of this node (kmsd serve --workers)
    description: str  # the URL without its password, for messages

    # --- statements -----------------------------------------------------------------

    def _fetchone(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        if _holds_nul(parameters):
            return None
        with self._connection() as connection:
            started = perf_counter()
            try:
                row: Row | None = connection.execute(placeholders(sql), parameters).fetchone()
            except psycopg.Error as error:
                self._failed()
                raise StoreError(_message(error)) from error
            finally:
                self.counters.read(perf_counter() - started)
        return row

    def _fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        if _holds_nul(parameters):
            return []
        with self._connection() as connection:
            started = perf_counter()
            try:
                rows: list[Row] = connection.execute(placeholders(sql), parameters).fetchall()
            except psycopg.Error as error:
                self._failed()
                raise StoreError(_message(error)) from error
            finally:
                self.counters.read(perf_counter() - started)
        return rows

    def _write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        if not self._in_own_transaction():
            with self.transaction():
                return self._write(sql, parameters, what)
        if self._doomed:
            raise StoreError(f"{what}: the transaction was already rolled back after an error")
        connection = self._transaction_connection
        assert connection is not None
        started = perf_counter()
        try:
            connection.execute("SAVEPOINT kmsd_write")
            try:
                rowcount = connection.execute(placeholders(sql), parameters).rowcount
            except psycopg.errors.IntegrityError as error:
                connection.execute("ROLLBACK TO SAVEPOINT kmsd_write")
                if isinstance(error, errors.UniqueViolation):
                    raise Conflict(f"{what} already exists") from error
                if isinstance(error, errors.ForeignKeyViolation):
                    raise StoreError(f"{what} refers to a record that does not exist") from error
                raise StoreError(f"{what}: {_message(error)}") from error
            connection.execute("RELEASE SAVEPOINT kmsd_write")
        except psycopg.Error as error:
            self._doomed = True
            raise StoreError(f"{what}: {_message(error)}") from error
        finally:
            self.counters.wrote(perf_counter() - started)
        # A statement that changed no row (the sweep's DELETE of expired sessions, most times) is no news: a
        # notification for it would empty every node's caches, every sweep.  -1 (not a row count) counts.
        if rowcount != 0:
            self._wrote = True
        return rowcount

    def _bookkeeping_write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        if self._in_own_transaction():
            return self._write(sql, parameters, what)
        with self.transaction():
            count = self._write(sql, parameters, what)
            # Frequent (every key and access key in use, once a minute) and held by no cache: no notification,
            # which would empty every node's caches.
            self._wrote = False
            return count

    def _keep_caches(self) -> None:
        self._wrote = False

    def _request_scrub(self) -> None:
        # PostgreSQL keeps a deleted row's bytes in its heap until VACUUM reuses the space, and in its WAL
        # until the segment is recycled; nothing a client can force.  docs/architecture.md says so.
        return None

    def _failed(self) -> None:
        """A statement of the open transaction failed: PostgreSQL has aborted it, so it must not commit."""
        if self._in_own_transaction():
            self._doomed = True

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """The open transaction's connection for its own thread; otherwise a pooled one (autocommit)."""
        if self._in_own_transaction():
            assert self._transaction_connection is not None
            yield self._transaction_connection
            return
        try:
            with self._pool.connection() as connection:
                yield connection
        except psycopg.OperationalError as error:
            raise StoreError(f"the PostgreSQL store at {self.description} is unreachable: {_message(error)}") from error
        except (PoolTimeout, TooManyRequests) as error:
            raise StoreError(f"the PostgreSQL store at {self.description} is unreachable: {error}") from error

    # --- transactions ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything in the block together, or nothing; every node's write transactions take turns.

        Nested blocks join the outermost one, and an exception inside any of them rolls the whole transaction
        back, as in the SQLite store.  The block must not ``await``.
        """
        if self._in_own_transaction():
            with self._joined():
                yield
            return
        with self._lock, self._connection() as connection:
            try:
                connection.execute("BEGIN")
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            except psycopg.Error as error:
                _rollback(connection)
                raise StoreError(f"cannot begin a transaction on {self.description}: {_message(error)}") from error
            self._transaction_connection = connection
            self._owner = threading.get_ident()
            self._doomed = False
            self._wrote = False
            # Whether cached key records may be outdated at the end: unless it committed nothing but bookkeeping.
            forget_keys = True
            try:
                try:
                    yield
                except BaseException:
                    _rollback(connection)
                    raise
                if self._doomed:
                    _rollback(connection)
                    raise StoreError(
                        "rolled back: an error inside the transaction was caught before the outermost block"
                    )
                try:
                    if self._wrote:
                        connection.execute("SELECT pg_notify(%s, %s)", (CHANGES_CHANNEL, self._store_id))
                    started = perf_counter()
                    connection.execute("COMMIT")
                    self.counters.committed(perf_counter() - started)
                except psycopg.Error as error:
                    _rollback(connection)
                    raise StoreError(f"commit failed: {_message(error)}") from error
                if self._wrote and self._local_commits is not None:
                    # Before the call answers: the next request, on any worker of this node, sees the change.
                    self._local_commits.bump()
                # A last-use record (_bookkeeping_write) changes no key record: emptying the key cache for it
                # would cost the next request on every cached key a store round trip, once a minute per key and
                # per access key in use.
                forget_keys = self._wrote
            finally:
                # Otherwise, committed or not, a key read while the transaction was open may be outdated now.
                if forget_keys:
                    self._forget_cached_keys()
                self._owner = None
                self._transaction_connection = None
                self._doomed = False


def connect_long_lived(conninfo: str, application_name: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection held open for a long time (the change listener's, the background lease's).

    A peer that vanishes without closing the socket (a partition, a crashed host) is noticed by TCP keepalives
    within about 8 s when idle, and a statement whose bytes go unacknowledged fails after 5 s
    (``tcp_user_timeout``) instead of the kernel's retransmission timeout of many minutes.
    """
    return psycopg.connect(
        conninfo,
        autocommit=True,
        connect_timeout=10,
        # Named for pg_stat_activity unless the operator names the node's connections (PGAPPNAME, or the URL).
        fallback_application_name=application_name,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=1,
        keepalives_count=3,
        tcp_user_timeout=5000,
    )


def _holds_nul(parameters: Sequence[Any]) -> bool:
    """Whether a text parameter holds U+0000, which PostgreSQL's text cannot: then no stored row can match it.

    The API refuses the character in what it stores (kmsd.api.shapes); a lookup can still carry one (an
    access key id in a presigned URL), and finds nothing, as on SQLite, instead of failing in the driver.
    """
    return any(isinstance(value, str) and "\x00" in value for value in parameters)


def _rollback(connection: psycopg.Connection[tuple[Any, ...]]) -> None:
    # The rollback must not hide the exception that caused it; a broken connection has nothing left to undo
    # (the pool discards it).
    with suppress(psycopg.Error):
        connection.execute("ROLLBACK")


def _message(error: psycopg.Error) -> str:
    """The server's primary message (no query text, no parameters: they may hold wrapped secrets)."""
    diagnostic = getattr(error, "diag", None)
    primary = diagnostic.message_primary if diagnostic is not None else None
    return primary or type(error).__name__
