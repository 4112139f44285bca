"""Everything a store holds, as bytes, for tests that look for a secret where it must not be.

For SQLite: the database file and its -wal and -shm files, byte for byte, as a copy taken now would have them.
For PostgreSQL: every value of every table of the store's database (the server's files are the server's).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from kmsd.store.urls import sqlite_path


def stored_contents(store_url: str) -> dict[str, bytes]:
    """What the store of ``store_url`` holds: file name (SQLite) or table name (PostgreSQL) to its bytes."""
    if store_url.startswith("sqlite:"):
        return _sqlite_files(sqlite_path(store_url))
    return _postgres_tables(store_url)


def _sqlite_files(database: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if path.exists():
            contents[path.name] = path.read_bytes()
    return contents


def _postgres_tables(store_url: str) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    with psycopg.connect(store_url) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            rows = connection.execute(
                sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            )
            contents[f"{schema}.{table}"] = b"\0".join(_as_bytes(value) for row in rows for value in row)
    return contents


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()
