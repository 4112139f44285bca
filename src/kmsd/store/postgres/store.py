"""The :class:`~kmsd.store.base.Store` on PostgreSQL, for several nodes (and their workers) serving as one service.

Opening a store connects a psycopg 3 pool, migrates the schema under an advisory lock (two nodes starting at once
migrate once; :mod:`kmsd.store.postgres.schema` holds PostgreSQL's form of every migration, and the version is
in ``kmsd_schema_version``), and starts the change listener (:mod:`kmsd.store.postgres.notifications`).

What a node caches and for how long.  Reads of a record this node never cached go to the database, so a key,
alias, grant or identity created anywhere is usable everywhere at once.  A change to a cached record is seen when
its notification arrives, or within :data:`~kmsd.store.postgres.notifications.FALLBACK_SECONDS` while the
listener is reconnecting.  The node that commits a change empties its own caches before answering.

Durability is PostgreSQL's: a commit returns after its WAL is flushed (``synchronous_commit`` as the operator
set it), so an acknowledged write survives ``kill -9`` of any node.  Replication and failover are the
operator's PostgreSQL's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from kmsd.store.base import StoreError
from kmsd.store.local_commits import LocalCommits
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.postgres.connections import (
    BACKGROUND_LOCK,
    MIGRATION_LOCK,
    PostgresConnections,
    connect_long_lived,
)
from kmsd.store.postgres.notifications import ChangeListener
from kmsd.store.postgres.schema import POSTGRES_MIGRATIONS
from kmsd.store.postgres.snapshot import postgres_snapshot
from kmsd.store.sql.queries import SqlQueries
from kmsd.store.sql.snapshot import ReadSnapshot
from kmsd.store.url_passwords import without_password

# Connections of one process: the event loop, the store-call thread, the large-call threads and the sweep.
POOL_SIZE = 6
CONNECT_TIMEOUT_SECONDS = 10
LISTENER_START_SECONDS = 10
LEASE_APPLICATION_NAME = "kmsd-lease"


class PostgresStore(PostgresConnections, SqlQueries):
    """The Store protocol on one PostgreSQL database; safe to share between threads, processes and machines."""

    # The check reads a flag the listener thread raises: free, so every request asks.
    change_check_interval = 0.0

    def __init__(
        self,
        conninfo: str,
        *,
        description: str,
        local_commits: LocalCommits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Connect to ``conninfo`` (a libpq URI), migrate, and listen for other nodes' changes.

        ``description`` names the database in messages without its password; ``local_commits`` is the counter
        the workers of this node share (:mod:`kmsd.store.local_commits`), None for a node of one process.
        """
        self.description = description
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._owner = None
        self._transaction_connection = None
        self._doomed = False
        self._wrote = False
        self._store_id = uuid.uuid4().hex
        self._local_commits = local_commits
        self._closed = False
        self._init_key_cache()
        self._lease_connection: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lease_lock = threading.Lock()
        self._listener: ChangeListener | None = None
        # The first connection migrates, and says exactly why when the database cannot be reached (the pool
        # would retry until its timeout and report only that).
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
                self._migrate(connection)
        except psycopg.Error as error:
            # Any driver error, a URL libpq cannot read too (ProgrammingError), whose message may quote the
            # password; `from None`: the chained original would print it after all.
            reason = without_password(str(error), conninfo)
            raise StoreError(f"cannot connect to the PostgreSQL store at {description}: {reason}") from None
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            name="kmsd-store",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
            self._listener = ChangeListener(conninfo, self._store_id, self._forget_cached_keys, monotonic=monotonic)
            if not self._listener.wait_until_listening(LISTENER_START_SECONDS):
                raise StoreError(f"cannot listen for changes on the PostgreSQL store at {description}")
        except BaseException:
            self.close()
            raise

    def _migrate(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Apply the migrations the database lacks, in one transaction, one node at a time."""
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                connection.execute("CREATE TABLE IF NOT EXISTS kmsd_schema_version (version BIGINT NOT NULL)")
                row = connection.execute("SELECT version FROM kmsd_schema_version").fetchone()
                if row is None:
                    connection.execute("INSERT INTO kmsd_schema_version (version) VALUES (0)")
                current = 0 if row is None else int(row[0])
                if current > LATEST_VERSION:
                    raise StoreError(
                        f"the PostgreSQL store at {self.description} has schema version {current}, newer than "
                        f"the {LATEST_VERSION} this kmsd knows: upgrade kmsd to open it"
                    )
                for version in range(current + 1, LATEST_VERSION + 1):
                    self._apply(connection, version)
        except psycopg.Error as error:
            raise StoreError(f"migrating the PostgreSQL store at {self.description} failed: {error}") from error

    def _apply(self, connection: psycopg.Connection[tuple[Any, ...]], version: int) -> None:
        try:
            for statement in POSTGRES_MIGRATIONS[version - 1]:
                connection.execute(statement.encode())  # bytes: no placeholder parsing of `%` in the DDL
            connection.execute("UPDATE kmsd_schema_version SET version = %s", (version,))
        except psycopg.Error as error:
            raise StoreError(
                f"migrating the PostgreSQL store at {self.description} to schema version {version} failed: {error}"
            ) from error

    # --- lifecycle -------------------------------------------------------------

    def schema_version(self) -> int:
        row = self._fetchone("SELECT version FROM kmsd_schema_version")
        if row is None:
            raise StoreError(f"the PostgreSQL store at {self.description} has no schema version")
        return int(row[0])

    def ping(self) -> bool:
        try:
            return self._fetchone("SELECT 1") is not None
        except StoreError:
            return False

    def read_snapshot(self) -> AbstractContextManager[ReadSnapshot]:
        """A consistent read-only view of the whole database (``kmsd store copy``), on a connection of its own."""
        return postgres_snapshot(self._conninfo, self.description, CONNECT_TIMEOUT_SECONDS)

    def changed_since_last_check(self, *, wait: bool = True) -> bool:
        # No round trip: the listener thread has already heard of other nodes' commits, and the counter the
        # workers of this node share tells of theirs even before their notifications arrive.
        assert self._listener is not None
        heard = self._listener.changed()
        if self._local_commits is None or not self._local_commits.moved():
            return heard
        self._forget_cached_keys()
        return True

    def _key_cache_is_current(self) -> bool:
        # Notifications empty the cache as they arrive; while the listener is deaf, it is emptied at least every
        # FALLBACK_SECONDS, checked here because the key cache may be read without a request.
        if self._listener is not None:
            self._listener.expire_keys_when_deaf()
        return True

    def try_hold_background_lease(self) -> bool:
        """Whether this store holds the service's background lease now (taking it if free); never waits.

        A session-level advisory lock on a connection of its own: PostgreSQL releases it when that connection
        ends, however the node dies, and another node's next attempt takes it.
        """
        with self._lease_lock:
            connection = self._lease_connection
            if connection is not None and not connection.closed:
                try:
                    connection.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    connection.close()
            self._lease_connection = None
            try:
                # Its probe runs on the store-call thread: a vanished peer must fail it in seconds, not minutes.
                connection = connect_long_lived(self._conninfo, LEASE_APPLICATION_NAME)
            except psycopg.Error:
                return False
            try:
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", (BACKGROUND_LOCK,)).fetchone()
            except psycopg.Error:
                connection.close()
                return False
            if row is None or not row[0]:
                connection.close()
                return False
            self._lease_connection = connection
            return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.close()
        with self._lease_lock:
            if self._lease_connection is not None:
                # Unlocked before the connection closes: PostgreSQL frees a session's locks only when its
                # backend has exited, a moment after the client hung up, and another node may try at once.
                with suppress(psycopg.Error):
                    self._lease_connection.execute("SELECT pg_advisory_unlock(%s)", (BACKGROUND_LOCK,))
                self._lease_connection.close()
                self._lease_connection = None
        self._pool.close()
        if self._local_commits is not None:
            self._local_commits.close()
