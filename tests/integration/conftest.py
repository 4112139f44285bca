"""Fixtures: one shared server per store kind (fast), and fresh servers for tests that own one.

Every test here runs once against SQLite and once against PostgreSQL: ``store_kind`` is a session-scoped
parameter of each of them (ids end in ``[sqlite]`` or ``[postgresql]``), so pytest runs all tests of one kind
before the other's and a session- or module-scoped server starts once per kind.  Servers take their store
from ``stores``.  ``@pytest.mark.sqlite_only("why")`` keeps a test that means nothing on PostgreSQL to
SQLite, ``@pytest.mark.postgresql_only("why")`` one that means nothing without PostgreSQL (it names its own
stores, say) to PostgreSQL; ``--store-kind sqlite`` or ``--store-kind postgresql`` runs one kind only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.postgres import PostgresDatabases, session_databases
from tests.integration.server import KmsdServer
from tests.integration.stores import STORE_KINDS, StoreKind, Stores

# The markers of a test that runs on one kind only, and that kind.
ONE_KIND_MARKERS: dict[str, StoreKind] = {"sqlite_only": "sqlite", "postgresql_only": "postgresql"}


def kinds_of(definition: pytest.Function) -> tuple[StoreKind, ...]:
    """The store kinds a test runs on: both, or the one its marker names (with a reason, and only one marker)."""
    marked = [(name, marker) for name in ONE_KIND_MARKERS if (marker := definition.get_closest_marker(name))]
    if not marked:
        return STORE_KINDS
    for name, marker in marked:
        if not (marker.args and isinstance(marker.args[0], str) and marker.args[0].strip()):
            raise ValueError(f"{definition.nodeid}: @pytest.mark.{name} needs its reason as a string")
    if len(marked) > 1:
        raise ValueError(f"{definition.nodeid}: a test runs on both store kinds or on one, not on {len(marked)}")
    return (ONE_KIND_MARKERS[marked[0][0]],)


@pytest.hookimpl(trylast=True)  # after @pytest.mark.parametrize's own: the store kind ends the test id
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", kinds_of(metafunc.definition), indirect=True, scope="session")


@pytest.fixture(scope="session", autouse=True)
def store_kind(request: pytest.FixtureRequest) -> StoreKind:
    """The kind of store this run of the test uses (autouse: every test here runs once per kind)."""
    kind: StoreKind = request.param
    return kind


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The test PostgreSQL; its databases of this run are dropped at the end, whatever the tests did."""
    yield from session_databases()


@pytest.fixture(scope="session")
def stores(store_kind: StoreKind, request: pytest.FixtureRequest) -> Stores:
    if store_kind == "sqlite":
        # Without PostgreSQL: `--store-kind sqlite` runs on a machine that has none.
        return Stores("sqlite")
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return Stores("postgresql", databases)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[KmsdServer]:
    data_dir = tmp_path_factory.mktemp(f"kmsd-shared-{stores.kind}")
    running = KmsdServer(data_dir, stores.new(data_dir)).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def root_credentials(server: KmsdServer) -> tuple[str, str]:
    return server.default_credentials()


@pytest.fixture
def kms(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    access_key, secret_key = root_credentials
    return server.client("kms", access_key=access_key, secret_key=secret_key)


@pytest.fixture
def fresh_server(tmp_path: Path, stores: Stores) -> Iterator[KmsdServer]:
    """A server of the test's own, on a new store, not yet started."""
    data_dir = tmp_path / "kmsd"
    running = KmsdServer(data_dir, stores.new(data_dir))
    yield running
    running.stop()
    stores.release(running.store_url)
