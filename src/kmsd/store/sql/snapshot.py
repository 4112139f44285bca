"""A consistent, read-only view of a whole store, read table by table in pages (``kmsd store copy``'s source).

The store's own reads each see the database as of their statement; a copy reads twenty tables one after another
and must see them all as of one moment, or a key written between two tables would arrive without its material.
:meth:`~kmsd.store.sqlite.SqliteStore.read_snapshot` and :meth:`~kmsd.store.postgres.PostgresStore.read_snapshot`
each open a connection of their own in one read-only transaction (SQLite: a WAL read transaction; PostgreSQL:
``REPEATABLE READ READ ONLY``) and answer this protocol; the SQL is the caller's, written once for both dialects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from kmsd.store.sql.codec import Row


class ReadSnapshot(Protocol):
    def count(self, table: str) -> int:
        """How many rows ``table`` holds in the snapshot."""
        ...

    def pages(self, sql: str, page_size: int) -> Iterator[tuple[Sequence[str], list[Row]]]:
        """The rows of a query, ``page_size`` at a time, each page with the result's column names.

        The rows are streamed from the database (a SQLite statement stepped on, a PostgreSQL server-side
        cursor), so a table larger than memory can be read.
        """
        ...
