"""The two kinds of store the contract tests run on, and what those tests use to open and watch them.

:class:`Stores` opens stores of one kind on one database; :class:`SessionDatabase` is the PostgreSQL database
a test session shares, emptied between tests.  A commit reaches another SQLite store at its next check, but
another PostgreSQL store only when its listener hears the notification: :func:`saw_a_change` polls for it
(up to a second, the issue's promise), :func:`saw_no_change` checks that none arrives meanwhile.
"""

from __future__ import annotations

import graphlib
import time
from typing import Literal, TypeAlias

import psycopg
from psycopg import sql

from kmsd.store.postgres import PostgresStore
from kmsd.store.sqlite import SqliteStore
from kmsd.store.urls import redacted

StoreKind: TypeAlias = Literal["sqlite", "postgresql"]
STORE_KINDS: tuple[StoreKind, ...] = ("sqlite", "postgresql")

# Both stores: the Store protocol, and the SqlConnections primitives (``_fetchall``, ``_write``) that some
# tests call to look at rows directly.
AnyStore: TypeAlias = SqliteStore | PostgresStore

# How long another PostgreSQL store may take to report a commit: the notification's trip (the promise is 1 s).
CHANGE_SECONDS = 1.0
# How long a test watches for a report that must not come; notifications arrive in milliseconds locally.
QUIET_SECONDS = 0.2


def saw_a_change(store: AnyStore, *, wait: bool = True) -> bool:
    """Whether ``store`` reports another store's commit: SQLite at its next check, PostgreSQL within a second.

    The report is used up, as a request's check uses it.
    """
    deadline = time.monotonic() + (0.0 if isinstance(store, SqliteStore) else CHANGE_SECONDS)
    while not store.changed_since_last_check(wait=wait):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def saw_no_change(store: AnyStore) -> bool:
    """Whether ``store`` reports no change: SQLite at its next check, PostgreSQL for :data:`QUIET_SECONDS`."""
    deadline = time.monotonic() + (0.0 if isinstance(store, SqliteStore) else QUIET_SECONDS)
    while not store.changed_since_last_check():
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.005)
    return False


class SessionDatabase:
    """The session's PostgreSQL database, migrated once, and the connection that empties it between tests.

    Emptying deletes the rows of every kmsd table (all of ``public`` but ``kmsd_schema_version``), tables that
    refer to others first, in one transaction.  Not TRUNCATE: it makes new files for every table and index,
    and measured 70 to 570 ms a test on this machine where the DELETEs take about 2 ms.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        PostgresStore(url, description=redacted(url)).close()  # migrates it
        self._connection = psycopg.connect(url, autocommit=True)
        # A test that left a transaction open on some table must fail the next test, not hang it.
        self._connection.execute("SET lock_timeout = '10s'")
        rows = self._connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'kmsd_schema_version'"
        ).fetchall()
        referrers: dict[str, set[str]] = {str(row[0]): set() for row in rows}
        assert {"keys", "iam_users", "principal_references"} <= set(referrers), referrers
        references = self._connection.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND conrelid <> confrelid"
        ).fetchall()
        for referrer, referred in references:
            referrers[str(referred)].add(str(referrer))
        # The referrers of a table come before it: no foreign key ever finds its row gone.
        self.tables = tuple(graphlib.TopologicalSorter(referrers).static_order())
        self._deletes = [sql.SQL("DELETE FROM {}").format(sql.Identifier(table)) for table in self.tables]

    def empty(self) -> None:
        with self._connection.transaction():
            for delete in self._deletes:
                self._connection.execute(delete)

    def close(self) -> None:
        self._connection.close()


class Stores:
    """Opens stores of one kind on one database (a SQLite file, or the session's PostgreSQL database)."""

    def __init__(self, kind: StoreKind, location: str) -> None:
        self.kind = kind
        self.location = location  # the SQLite file's path, or the database's postgresql:// URL
        self.opened: list[AnyStore] = []

    def open(self) -> AnyStore:
        """Another store on the same database (the first one opened creates and migrates it)."""
        opened: AnyStore
        if self.kind == "sqlite":
            opened = SqliteStore(self.location)
        else:
            opened = PostgresStore(self.location, description=redacted(self.location))
        self.opened.append(opened)
        return opened

    def close_all(self) -> None:
        for opened in reversed(self.opened):
            opened.close()


class Ticks:
    """A monotonic clock that moves only when a test moves it: a store's timing rules, without sleeping."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds
