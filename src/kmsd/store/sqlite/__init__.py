"""The SQLite store: :class:`SqliteStore` on one file, split by the records it keeps.

``store`` opens the file, migrates it and answers the lifecycle calls; ``connections``
holds the writer and per-thread reader connections and runs the transactions; the
queries themselves are :mod:`kmsd.store.sql`'s, shared with PostgreSQL.  Callers need
only :class:`SqliteStore`, re-exported here so that ``from kmsd.store.sqlite import SqliteStore`` names the package's
one entry point.
"""

from kmsd.store.sqlite.connections import BUSY_WRITER_SECONDS, KEY_CACHE_CHECK_SECONDS
from kmsd.store.sqlite.store import SqliteStore

__all__ = ["BUSY_WRITER_SECONDS", "KEY_CACHE_CHECK_SECONDS", "SqliteStore"]
