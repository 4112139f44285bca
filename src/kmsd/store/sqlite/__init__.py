"""The SQLite store: :class:`SqliteStore` on one file, split by the records it keeps.

``store`` opens the file, migrates it and owns the transaction; ``connections``
holds the writer and per-thread reader connections and the key cache; ``rows``
declares once, per record, how a dataclass maps to its table's columns; the
other modules (``accounts``, ``kms_keys``, ``grants``, ``iam_entities``,
``iam_policies``, ``sessions``, ``principal_references``) are the queries of one
family of records each.  Callers need only :class:`SqliteStore`, re-exported
here so that ``from kmsd.store.sqlite import SqliteStore`` names the package's
one entry point.
"""

from kmsd.store.sqlite.connections import KEY_CACHE_CHECK_SECONDS
from kmsd.store.sqlite.store import SqliteStore

__all__ = ["KEY_CACHE_CHECK_SECONDS", "SqliteStore"]
