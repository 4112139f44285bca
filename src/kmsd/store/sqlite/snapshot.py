"""The SQLite form of :class:`~kmsd.store.sql.snapshot.ReadSnapshot`: one read transaction on a connection of its
own.

In WAL mode a read transaction sees the database as of its first read until it ends, while writers carry on
(their commits go to the WAL, which the snapshot does not see); the reader only keeps checkpoints from passing
its snapshot meanwhile.  The connection is ``query_only``, like the store's readers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kmsd.store.base import StoreError
from kmsd.store.sql.codec import Row
from kmsd.store.sqlite.connections import connect


class SqliteSnapshot:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def count(self, table: str) -> int:
        try:
            return int(self._connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.Error as error:
            raise StoreError(f"counting the rows of {table} failed: {error}") from error

    def pages(self, sql: str, page_size: int) -> Iterator[tuple[Sequence[str], list[Row]]]:
        try:
            cursor = self._connection.execute(sql)
            columns = [str(column[0]) for column in cursor.description]
            while rows := cursor.fetchmany(page_size):
                yield columns, rows
        except sqlite3.Error as error:
            raise StoreError(f"reading the store failed: {error}") from error


@contextmanager
def sqlite_snapshot(path: Path) -> Iterator[SqliteSnapshot]:
    try:
        connection = connect(str(path), query_only=True)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the SQLite store at {path}: {error}") from error
    try:
        # BEGIN alone takes no snapshot: the first read does, and every later one in the transaction shares it.
        connection.execute("BEGIN")
        yield SqliteSnapshot(connection)
    finally:
        connection.close()  # ends the read transaction
