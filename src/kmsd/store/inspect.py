"""What a store URL holds, read without opening the store: ``kmsd store check``, and the checks before a copy.

Opening a store (:func:`kmsd.store.urls.open_store`) creates a missing SQLite file and migrates the schema; the
operational commands must look first (``check`` writes nothing; ``copy`` refuses a source that is not at the
latest schema rather than migrate it, and a destination that holds data rather than migrate that).  So this
module connects with the bare driver, read-only, and reads the schema version, the root key's check value and
whether any table holds a row.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsd.store.base import StoreError
from kmsd.store.sqlite.connections import connect
from kmsd.store.url_passwords import without_password
from kmsd.store.urls import is_postgres_url, postgres_conninfo, redacted, sqlite_path

CONNECT_TIMEOUT_SECONDS = 10
_SCHEMA_VERSION_TABLE = "kmsd_schema_version"  # PostgreSQL's record of the version, not data
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class StoreFacts:
    description: str  # the URL without its password
    engine: str  # "SQLite 3.40.1", "PostgreSQL 15.20"
    schema_version: int  # 0: no kmsd schema (yet)
    settings: Mapping[str, str]  # the settings table: the root key's check value among them, once recorded
    tables_with_rows: tuple[str, ...]  # kmsd's tables that hold a row (the schema version aside)


def inspect_store(url: str) -> StoreFacts:
    """The facts of the store ``url`` names; StoreError when it cannot be read (missing file, unreachable)."""
    if is_postgres_url(url):
        return _inspect_postgres(url)
    path = sqlite_path(url)  # raises StoreError for anything that is not a sqlite:// URL either
    if not path.is_file():
        raise StoreError(f"there is no SQLite store at {path}")
    try:
        connection = connect(str(path), query_only=True)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the SQLite store at {path}: {error}") from error
    try:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        tables = _plain([row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")])
        return _facts(connection, url, f"SQLite {sqlite3.sqlite_version}", version, tables)
    except sqlite3.Error as error:
        raise StoreError(f"cannot read the SQLite store at {path}: {error}") from error
    finally:
        connection.close()


def _inspect_postgres(url: str) -> StoreFacts:
    description = redacted(url)
    try:
        import psycopg
    except ImportError as error:
        raise StoreError("a PostgreSQL store needs psycopg: pip install 'kmsd[postgres]'") from error
    try:
        connection = psycopg.connect(postgres_conninfo(url), connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        # libpq quotes the part of a URL it cannot read, the password included; not chained, for the same reason.
        reason = without_password(str(error), url)
        raise StoreError(f"cannot connect to the PostgreSQL store at {description}: {reason}") from None
    try:
        connection.read_only = True
        row = connection.execute("SHOW server_version").fetchone()
        server = str(row[0]).split(" ", 1)[0] if row else "?"
        listed = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()
        tables = _plain([name for (name,) in listed])
        version = 0
        if _SCHEMA_VERSION_TABLE in tables:
            found = connection.execute(f"SELECT version FROM {_SCHEMA_VERSION_TABLE}").fetchone()
            version = int(found[0]) if found else 0
        data_tables = [table for table in tables if table != _SCHEMA_VERSION_TABLE]
        return _facts(connection, description, f"PostgreSQL {server}", version, data_tables)
    except psycopg.Error as error:
        raise StoreError(f"cannot read the PostgreSQL store at {description}: {error}") from error
    finally:
        connection.close()


def _facts(connection: Any, description: str, engine: str, version: int, tables: list[str]) -> StoreFacts:
    """The facts, read through a SQLite or a psycopg connection (both take these queries)."""
    settings: dict[str, str] = {}
    if "settings" in tables:
        settings = {str(name): str(value) for name, value in connection.execute("SELECT name, value FROM settings")}
    with_rows = [
        table for table in tables if connection.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]
    ]
    return StoreFacts(description, engine, version, settings, tuple(sorted(with_rows)))


def _plain(names: list[Any]) -> list[str]:
    """The tables to look at: kmsd's names are plain identifiers (SQLite's own ``sqlite_*`` tables are left out)."""
    return [str(name) for name in names if _PLAIN_NAME.fullmatch(str(name)) and not str(name).startswith("sqlite_")]
