"""Fixtures: one shared server per test session (fast), and fresh servers for tests that own one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import KmsdServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmsdServer]:
    running = KmsdServer(tmp_path_factory.mktemp("kmsd-shared")).start()
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
def fresh_server(tmp_path: Path) -> Iterator[KmsdServer]:
    """A server of the test's own, not yet started."""
    running = KmsdServer(tmp_path / "kmsd")
    yield running
    running.stop()
