"""Fixtures shared by the service-level suites (kms, iam, authz): real parts, controlled time.

``store`` is a real :class:`SqliteStore` in the test's temporary directory
holding the accounts 111122223333 and 444455556666 (key policies may only
name principals that exist), ``clock`` a :class:`ManualClock` the test moves,
``root_key`` a file root key beside the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey
from kmsd.store.models import Account
from kmsd.store.sqlite import SqliteStore

STORE_ACCOUNTS = ("111122223333", "444455556666")


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/integration/conftest.py: pytest reads options only from the conftest files it loads
    # first, and `pytest tests/kms --store-kind sqlite` must not be an unknown option.
    parser.addoption(
        "--store-kind",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="the stores tests/integration runs against (default: both, each test once per kind)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--store-kind KIND``: deselect (never skip) the tests of the other kind (tests/integration, tests/store)."""
    chosen = config.getoption("store_kind")
    if chosen == "both":
        return
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("store_kind") if callspec is not None else None
        (deselected if kind is not None and kind != chosen else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "kmsd.db")
    for account_id in STORE_ACCOUNTS:
        opened.create_account(Account(account_id, clock.now()))
    yield opened
    opened.close()


@pytest.fixture
def root_key(tmp_path: Path) -> FileRootKey:
    return FileRootKey.load_or_create(tmp_path / "root.key")
