"""Fixtures: every test of the Store contract runs once on SQLite and once on PostgreSQL.

A test that takes ``store`` (or ``stores``) is run for each kind in :data:`STORE_KINDS`, its id ending in
``[sqlite]`` or ``[postgresql]``.  ``stores`` opens stores of the test's kind on the test's own database:
``stores.open()`` again is "another store on the same database", as another process or node would open it
(the two-store tests); every store it opened is closed when the test ends.  ``--store-kind sqlite`` (or
``postgresql``), where tests/conftest.py offers it, deselects the other kind, as in tests/integration.

PostgreSQL is made cheap: one database per session, migrated once; before each test every kmsd table of it
is emptied (:class:`~tests.store.store_kinds.SessionDatabase`), so each test starts from a store as fresh as
a new SQLite file.  Tests that need a database of their own (migrations, collations) take
``postgres_databases``.  The PostgreSQL half never skips: without a server it fails, saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.postgres import PostgresDatabases, session_databases
from tests.store.records import T0
from tests.store.store_kinds import STORE_KINDS, AnyStore, SessionDatabase, StoreKind, Stores

import kmsd.store.postgres.notifications as notifications
from kmsd.store.models import Account

# The accounts of store_with_accounts, as tests/conftest.py's store has them.
STORE_ACCOUNTS = ("111122223333", "444455556666")


@pytest.fixture(scope="session", autouse=True)
def _listeners_stop_quickly() -> Iterator[None]:
    """Closing a PostgreSQL store waits for its listener's current wait (``WAIT_SECONDS``, 0.1 s): a tenth of a
    second per store, most of what the PostgreSQL half of tests/store would cost.  Here the waits are 10 ms;
    nothing but the time ``close()`` takes depends on their length."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notifications, "WAIT_SECONDS", 0.01)
        yield


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The test PostgreSQL; every database this run created on it is dropped at the end."""
    yield from session_databases()


@pytest.fixture(scope="session")
def postgres_session_database(postgres_databases: PostgresDatabases) -> Iterator[SessionDatabase]:
    database = SessionDatabase(postgres_databases.create())
    try:
        yield database
    finally:
        database.close()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> StoreKind:
    kind: StoreKind = request.param
    return kind


@pytest.fixture
def stores(store_kind: StoreKind, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stores]:
    if store_kind == "sqlite":
        # Without PostgreSQL: `--store-kind sqlite` runs on a machine that has none.
        opener = Stores("sqlite", str(tmp_path / "kmsd.db"))
    else:
        database: SessionDatabase = request.getfixturevalue("postgres_session_database")
        database.empty()
        opener = Stores("postgresql", database.url)
    try:
        yield opener
    finally:
        opener.close_all()


@pytest.fixture
def store(stores: Stores) -> AnyStore:
    """A fresh, empty store of the test's kind."""
    return stores.open()


@pytest.fixture
def second_store(stores: Stores, store: AnyStore) -> AnyStore:
    """Another store on the same database, as another process (SQLite) or node (PostgreSQL) would open."""
    return stores.open()


@pytest.fixture
def store_with_accounts(stores: Stores) -> AnyStore:
    """A fresh store holding the accounts 111122223333 and 444455556666 (IAM entities, and the keys whose
    policies name them, belong to accounts that exist)."""
    opened = stores.open()
    for account_id in STORE_ACCOUNTS:
        opened.create_account(Account(account_id, T0))
    return opened
