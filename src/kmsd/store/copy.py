"""``kmsd store copy``: move a deployment's store, row by row, from one database to another (SQLite and PostgreSQL,
either way).

What is copied.  Every row of every table, every column, as it is: wrapped secrets (key material, access-key and
session secrets, key store passwords, imported-material digests) stay wrapped under the root key, so the copy
needs no root key and the destination must be served with the source's (its ``settings`` rows, copied too, carry
the root key's check value, and :mod:`kmsd.root_binding` refuses any other).  Both stores share one schema per
version (:mod:`kmsd.store.postgres.schema`), so a row of one is a row of the other; the schema version itself is
not data: the destination is migrated by opening it, and the source must already be at the latest version (a
copy never migrates its source).  ``principal_references`` is not copied: the destination's triggers build it
from the key policies and trust policies as they arrive, with that database's own JSON reading, which is what
the destination's later writes will keep up; the report gives both counts.

Order and atomicity.  Tables go in foreign-key order (:data:`TABLES`), each in its primary key's order, in
pages of :data:`PAGE_ROWS`, all inside one destination transaction that first checks the destination is empty
and last checks that every table holds exactly the source's count: a copy that fails at any point (an
unreachable database, a row the destination refuses, a crash) leaves the destination as empty as it found it.
The source is read in one snapshot (:mod:`kmsd.store.sql.snapshot`), so a copy never sees half of a write; a
write committed to the source after the snapshot is not copied, hence: stop serving writes from the source first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, cast

from kmsd.store.base import Store, StoreError
from kmsd.store.inspect import inspect_store
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.sql.codec import Row
from kmsd.store.sql.connections import SqlConnections
from kmsd.store.sql.snapshot import ReadSnapshot
from kmsd.store.urls import is_postgres_url, open_store, postgres_conninfo, redacted, sqlite_path

# Rows per INSERT: the widest table (keys, 20 columns) stays far below SQLite's 32 766 parameters.
PAGE_ROWS = 500


@dataclass(frozen=True)
class Table:
    name: str
    order: tuple[str, ...]  # the primary key, or the columns that identify a row where there is none


# Foreign-key order: a table comes after every table it refers to (key_materials' trigger needs its key too).
TABLES: tuple[Table, ...] = (
    Table("settings", ("name",)),
    Table("accounts", ("account_id",)),
    Table("iam_users", ("user_id",)),
    Table("iam_groups", ("group_id",)),
    Table("iam_group_members", ("group_id", "user_id")),
    Table("iam_roles", ("role_id",)),
    Table("iam_policies", ("arn",)),
    Table("iam_policy_versions", ("policy_arn", "version_id")),
    Table("iam_inline_policies", ("account_id", "user_id", "group_id", "role_id", "policy_name")),
    Table("iam_policy_attachments", ("account_id", "user_id", "group_id", "role_id", "policy_arn")),
    Table("access_keys", ("access_key_id",)),
    Table("sts_sessions", ("access_key_id",)),
    Table("custom_key_stores", ("custom_key_store_id",)),
    Table("keys", ("key_id", "region")),
    Table("key_materials", ("key_id", "version")),
    Table("imported_key_materials", ("key_id", "region", "version")),
    Table("token_keys", ("key_id", "region")),
    Table("aliases", ("account_id", "region", "alias_name")),
    Table("grants", ("grant_id",)),
    Table("key_last_usage", ("key_id", "region")),
    Table("audit_events", ("sequence",)),
    Table("audit_event_resources", ("sequence", "position")),
    Table("audit_chain", ("id",)),
)
# Filled by the destination's triggers as keys and roles arrive; counted, not copied.
REBUILT_TABLES = ("principal_references",)


class CopyProgress(Protocol):
    """What the copy tells as it goes (``kmsd.cli.store_progress`` draws it)."""

    def begin(self, counts: Mapping[str, int]) -> None: ...

    def advance(self, table: str, rows: int) -> None:
        """``rows`` more rows of ``table`` were written."""
        ...

    def table_done(self, table: str, rows: int) -> None: ...


@dataclass(frozen=True)
class CopyReport:
    counts: Mapping[str, int]  # rows copied per table, equal in source and destination
    rebuilt: Mapping[str, tuple[int, int]]  # table: (source rows, rows the destination's triggers made)


class _CopyableStore(Protocol):
    """What a copy needs of a store: both SQL stores have it (:class:`SqlConnections` and ``read_snapshot``)."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def read_snapshot(self) -> AbstractContextManager[ReadSnapshot]: ...

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None: ...

    def count_rows(self, table: str) -> int: ...

    def close(self) -> None: ...


def copy_store(source_url: str, destination_url: str, progress: CopyProgress) -> CopyReport:
    """Copy every row of the store at ``source_url`` into the empty store at ``destination_url``.

    StoreError, with the destination left as it was, for a source not at the latest schema, a destination that
    holds data (or is the source), and any failure on the way.
    """
    if _same_store(source_url, destination_url):
        raise StoreError("--from and --to name the same store")
    _check_source(source_url)
    _check_destination(destination_url)
    source = _copyable(open_store(source_url))
    try:
        destination = _copyable(open_store(destination_url))
        try:
            return _copy(source, destination, progress, redacted(destination_url))
        finally:
            destination.close()
    finally:
        source.close()


def _check_source(url: str) -> None:
    facts = inspect_store(url)
    if facts.schema_version != LATEST_VERSION:
        raise StoreError(
            f"the source store {facts.description} has schema version {facts.schema_version}, and a copy needs "
            f"version {LATEST_VERSION} on both sides: "
            + (
                f"run `kmsd store migrate --store {facts.description}` first"
                if facts.schema_version < LATEST_VERSION
                else "upgrade kmsd first"
            )
        )


def _check_destination(url: str) -> None:
    """Refuse a destination that holds data before opening it (opening would migrate it)."""
    if not is_postgres_url(url) and not sqlite_path(url).exists():
        return  # a new SQLite file: opening creates it
    facts = inspect_store(url)
    if facts.tables_with_rows:
        raise StoreError(
            f"the destination store {facts.description} already holds data (in {', '.join(facts.tables_with_rows)}); "
            "a copy goes only into a new, empty store"
        )


def _same_store(first: str, second: str) -> bool:
    if is_postgres_url(first) or is_postgres_url(second):
        return (
            is_postgres_url(first) and is_postgres_url(second) and postgres_conninfo(first) == postgres_conninfo(second)
        )
    return sqlite_path(first).resolve() == sqlite_path(second).resolve()


def _copyable(store: Store) -> _CopyableStore:
    if not isinstance(store, SqlConnections) or not hasattr(store, "read_snapshot"):
        store.close()
        raise StoreError("kmsd store copy works between SQLite and PostgreSQL stores")
    return cast(_CopyableStore, store)


def _copy(source: _CopyableStore, destination: _CopyableStore, progress: CopyProgress, description: str) -> CopyReport:
    with source.read_snapshot() as snapshot:
        counts = {table.name: snapshot.count(table.name) for table in TABLES}
        rebuilt_in_source = {name: snapshot.count(name) for name in REBUILT_TABLES}
        progress.begin(counts)
        with destination.transaction():
            # Checked again inside the transaction: a server started on the destination meanwhile wrote first.
            held = [
                name for name in (*(table.name for table in TABLES), *REBUILT_TABLES) if destination.count_rows(name)
            ]
            if held:
                raise StoreError(f"the destination store {description} already holds data (in {', '.join(held)})")
            for table in TABLES:
                _copy_table(snapshot, destination, table, counts[table.name], progress)
            rebuilt = {name: (rebuilt_in_source[name], destination.count_rows(name)) for name in REBUILT_TABLES}
    return CopyReport(counts, rebuilt)


def _copy_table(
    snapshot: ReadSnapshot, destination: _CopyableStore, table: Table, expected: int, progress: CopyProgress
) -> None:
    select = f"SELECT * FROM {table.name} ORDER BY {', '.join(table.order)}"
    for columns, rows in snapshot.pages(select, PAGE_ROWS):
        try:
            # By name: the columns of a table need not stand in the same order in both databases.
            destination.insert_rows(table.name, columns, rows)
        except StoreError as error:
            raise _explained(error, table, columns, rows) from error
        progress.advance(table.name, len(rows))
    written = destination.count_rows(table.name)
    if written != expected:
        raise StoreError(f"{table.name}: the source holds {expected} rows, the destination {written}; nothing copied")
    progress.table_done(table.name, written)


def _explained(error: StoreError, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> StoreError:
    """The destination's refusal of a page, naming the row when the reason is one kmsd can see.

    A text holding U+0000 is the one known difference: SQLite stores it, PostgreSQL's text type cannot.  The
    row is named by its identifying columns (ids, names: never a secret, which is always a wrapped BLOB).
    """
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            if isinstance(value, str) and "\x00" in value:
                identity = ", ".join(f"{name}={row[columns.index(name)]!r}" for name in table.order if name in columns)
                return StoreError(
                    f"{table.name} ({identity}): {column} holds the character U+0000, which the destination cannot "
                    "store (PostgreSQL text cannot hold it); change that value in the source and copy again"
                )
    return StoreError(f"copying {table.name} failed: {error}")
