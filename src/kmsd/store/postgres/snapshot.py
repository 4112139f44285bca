"""The PostgreSQL form of :class:`~kmsd.store.sql.snapshot.ReadSnapshot`: a ``REPEATABLE READ READ ONLY``
transaction on a connection of its own, read through server-side cursors.

Under REPEATABLE READ every statement of the transaction sees the database as of its first statement, whatever
other nodes commit meanwhile, and a read-only transaction never waits for their locks.  A server-side cursor
sends the rows a page at a time, where a plain one would hold the whole table in this process's memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from kmsd.store.base import StoreError
from kmsd.store.postgres.connections import _message as message
from kmsd.store.sql.codec import Row


class PostgresSnapshot:
    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._connection = connection

    def count(self, table: str) -> int:
        try:
            row = self._connection.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
        except psycopg.Error as error:
            raise StoreError(f"counting the rows of {table} failed: {message(error)}") from error
        assert row is not None
        return int(row[0])

    def pages(self, sql: str, page_size: int) -> Iterator[tuple[Sequence[str], list[Row]]]:
        try:
            with self._connection.cursor(name="kmsd_snapshot") as cursor:
                cursor.itersize = page_size
                cursor.execute(sql.encode())
                columns = [column.name for column in cursor.description or ()]
                while rows := cursor.fetchmany(page_size):
                    yield columns, rows
        except psycopg.Error as error:
            raise StoreError(f"reading the store failed: {message(error)}") from error


@contextmanager
def postgres_snapshot(conninfo: str, description: str, connect_timeout: int) -> Iterator[PostgresSnapshot]:
    try:
        connection = psycopg.connect(conninfo, connect_timeout=connect_timeout)
    except psycopg.Error as error:
        raise StoreError(f"cannot connect to the PostgreSQL store at {description}: {message(error)}") from error
    try:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        yield PostgresSnapshot(connection)
    finally:
        connection.close()  # ends (rolls back) the read-only transaction
