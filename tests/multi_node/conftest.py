"""Fixtures: the test PostgreSQL's databases (all dropped at the end) and a three-node service shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.postgres import PostgresDatabases, session_databases
from tests.multi_node.cluster import Cluster, cluster


@pytest.fixture(scope="session")
def databases() -> Iterator[PostgresDatabases]:
    yield from session_databases()


@pytest.fixture(scope="module")
def three_nodes(databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(databases, tmp_path_factory.mktemp("nodes"), 3) as running:
        yield running
