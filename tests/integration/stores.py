"""Store URLs for the servers of tests/integration, of the kind the test runs against: SQLite or PostgreSQL.

Every test of tests/integration runs once per kind (conftest.py parametrizes ``store_kind``).  A server's
store is fresh: a ``kmsd.db`` in its data directory, or a database of its own on the test PostgreSQL
(tests/helpers/postgres.py).  Restarting a server on "the same store" means reusing its URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from tests.helpers.postgres import PostgresDatabases

StoreKind = Literal["sqlite", "postgresql"]
STORE_KINDS: tuple[StoreKind, ...] = ("sqlite", "postgresql")


def sqlite_url(data_dir: Path) -> str:
    """The store URL of ``data_dir/kmsd.db`` (four slashes: the path is absolute)."""
    return f"sqlite:///{data_dir.resolve() / 'kmsd.db'}"


class Stores:
    """Hands out fresh stores of one kind; ``databases`` is the test PostgreSQL for the postgresql kind."""

    def __init__(self, kind: StoreKind, databases: PostgresDatabases | None = None) -> None:
        if kind == "postgresql" and databases is None:
            raise ValueError("PostgreSQL stores need the test PostgreSQL's databases")
        self.kind = kind
        self._databases = databases

    def new(self, data_dir: Path) -> str:
        """The URL of a new, empty store for a server whose files go to ``data_dir`` (created if missing)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        if self._databases is None:
            return sqlite_url(data_dir)
        return self._databases.create()

    def release(self, url: str) -> None:
        """Drop a PostgreSQL store nothing uses any more, before the run ends (a SQLite file goes with tmp_path)."""
        if self._databases is not None:
            self._databases.drop(url)
