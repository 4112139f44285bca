"""What only the PostgreSQL store has: its schema next to SQLite's, migrating on a shared server, change
notifications and their fallback, the background lease, the principal-reference triggers in plpgsql, byte order
under any database collation, and URLs that carry a password.

The Store contract itself runs on both stores in the other modules of tests/store; these tests open their
stores on the session's database (``stores``, emptied before each test) or, where the database itself matters
(a fresh schema, a collation), on one of their own.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import psycopg
import pytest
from tests.helpers.postgres import PostgresDatabases
from tests.store.store_kinds import Stores

from kmsd.store.base import StoreError
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.postgres import PostgresStore
from kmsd.store.urls import open_store

# Every test here is a PostgreSQL test: `stores` opens PostgreSQL stores, the ids end in [postgresql], and
# `--store-kind sqlite` deselects them.
pytestmark = pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def _every_test_has_a_store_kind(store_kind: str) -> None:
    """Puts ``store_kind`` in every test's fixtures, where the parametrization above needs it."""


@pytest.fixture
def fresh_database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A new, empty database of the test's own (not the session's, which is migrated already)."""
    url = postgres_databases.create()
    try:
        yield url
    finally:
        postgres_databases.drop(url)


def execute(url: str, statement: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on a connection of its own, outside any store; its rows."""
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement.encode(), parameters)
        return cursor.fetchall() if cursor.description is not None else []


# --- the schema and its migrations -------------------------------------------------------------------------


def test_a_newer_schema_is_refused_without_telling_the_password(fresh_database: str) -> None:
    # The test server trusts every connection: a password is accepted, and a working store keeps it to itself.
    with_password = fresh_database.replace("://postgres@", "://postgres:s3cret-pw@", 1)
    assert "s3cret-pw" in with_password
    store = open_store(with_password)
    try:
        assert isinstance(store, PostgresStore)
        assert "s3cret-pw" not in store.description
    finally:
        store.close()
    execute(fresh_database, "UPDATE kmsd_schema_version SET version = %s", (LATEST_VERSION + 1,))
    with pytest.raises(
        StoreError, match=f"schema version {LATEST_VERSION + 1}, newer than the {LATEST_VERSION}"
    ) as refused:
        open_store(with_password)
    assert "s3cret-pw" not in _everything_said(refused.value)
    assert execute(fresh_database, "SELECT version FROM kmsd_schema_version") == [(LATEST_VERSION + 1,)]


# --- change notifications -----------------------------------------------------------------------------------


def test_a_freshly_opened_store_reports_no_change(stores: Stores) -> None:
    # Nothing was cached before the listener listened, so nothing can be outdated (it used to say True once).
    stores.open().set_setting("x", "1")
    assert stores.open().changed_since_last_check() is False


# --- the background lease ---------------------------------------------------------------------------------


def test_the_background_lease_has_one_holder_and_is_free_once_it_closes(stores: Stores) -> None:
    second = stores.open()
    # Several rounds: a lease freed only when the holder's backend had exited was still held here one time in ten.
    for _ in range(8):
        first = stores.open()
        assert first.try_hold_background_lease() is True
        assert first.try_hold_background_lease() is True  # it still holds it
        assert second.try_hold_background_lease() is False
        first.close()
        assert second.try_hold_background_lease() is True
        second.close()
        second = stores.open()


# --- URLs with passwords ----------------------------------------------------------------------------------


def _everything_said(error: BaseException) -> str:
    """The message and the whole printed traceback, chained exceptions included."""
    return "".join(traceback.format_exception(error))


@pytest.mark.parametrize(
    "url",
    [
        # A URL libpq cannot read: its complaint quotes the password.
        "postgresql://postgres:s3cr%zzet@127.0.0.1:5432/postgres",
        # Nobody listens there.
        "postgresql://postgres:s3cret-pw@127.0.0.1:1/kmsd",
        # The password as libpq's query parameter.
        "postgresql://postgres@127.0.0.1:1/kmsd?password=s3cret-pw",
        "postgresql://postgres@127.0.0.1:1/kmsd?sslmode=disable&password=s3cret-pw",
    ],
    ids=["unreadable-url", "unreachable", "query-parameter", "second-query-parameter"],
)
def test_a_store_that_cannot_open_never_tells_the_password(url: str) -> None:
    with pytest.raises(StoreError) as refused:
        open_store(url)
    said = _everything_said(refused.value)
    assert "s3cr" not in said
    assert "cannot connect to the PostgreSQL store at postgresql://postgres" in str(refused.value)
