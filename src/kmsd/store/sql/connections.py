"""What the query modules of :mod:`kmsd.store.sql` need from a database: the primitives each store implements, and
the key cache they share.

The queries (``kms_keys``, ``grants``, ``iam_entities``, ...) are written once, in the SQL that SQLite and
PostgreSQL both accept, with ``?`` placeholders; :class:`SqlConnections` is the contract between them and a
store's connection machinery (:mod:`kmsd.store.sqlite.connections`, :mod:`kmsd.store.postgres.connections`).
A store runs a statement read outside a transaction on a connection of its own choosing; inside the calling
thread's transaction, on that transaction's connection, so a thread sees its own uncommitted writes.  The few
places where the two dialects differ are class attributes here (:attr:`SqlConnections.NOCASE_EQUALS`).

The key cache.  Every KMS call reads its key, so :meth:`~kmsd.store.sql.kms_keys.KmsKeyQueries.get_key` keeps the
records it read outside a transaction.  The end of every transaction of this store that changed a row (other than
a last-use record) or failed empties it, and a read under
way meanwhile does not fill it (a generation counter), so this process never sees a key older than its own last
commit; each store says in :meth:`SqlConnections._key_cache_is_current` how it learns of other processes'
commits (SQLite: ``PRAGMA data_version``; PostgreSQL: LISTEN/NOTIFY).
"""

from __future__ import annotations

import re
import threading
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from kmsd.store.base import StoreCounters, StoreError
from kmsd.store.models import KeyRecord
from kmsd.store.sql.codec import Row

KEY_CACHE_LIMIT = 10_000
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class SqlConnections:
    """The primitives the query classes call, and the key cache; a store subclasses this with its driver."""

    # ``column = ?`` compared without regard to ASCII case (a grant's principal in any spelling).
    NOCASE_EQUALS = "{column} = ? COLLATE NOCASE"

    # Set by the store's __init__.
    _owner: int | None  # thread ident holding the open transaction
    _doomed: bool  # an error inside the open transaction: it may only roll back
    _key_cache: dict[tuple[str, str], KeyRecord]  # by (key_id, region)
    _key_cache_lock: threading.Lock  # orders filling the cache against emptying it
    _key_cache_generation: int  # advanced whenever the cache is emptied
    counters: StoreCounters  # statements, their seconds and the key cache's hits, for the metrics

    def _init_key_cache(self) -> None:
        self.counters = StoreCounters()
        self._key_cache = {}
        self._key_cache_lock = threading.Lock()
        self._key_cache_generation = 0

    # --- statements ------------------------------------------------------------------

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Commit everything in the block together, or nothing (see :meth:`kmsd.store.base.Store.transaction`)."""

    @abstractmethod
    def _fetchone(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None: ...

    @abstractmethod
    def _fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]: ...

    @abstractmethod
    def _write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        """Run one statement in the caller's transaction, or in one of its own; the number of rows changed.

        A uniqueness violation raises :class:`~kmsd.store.base.Conflict` and leaves the caller's transaction
        usable (``except Conflict`` may carry on); a missing referenced row raises StoreError.
        """

    def _bookkeeping_write(self, sql: str, parameters: Sequence[Any], what: str) -> int:
        """:meth:`_write` for bookkeeping that no cache holds (when a key or an access key was last used).

        Other processes need not drop their caches for it; a store that tells them of commits may stay quiet.
        """
        return self._write(sql, parameters, what)

    @contextmanager
    def bookkeeping_transaction(self) -> Iterator[None]:
        """:meth:`transaction` for records no cache holds (audit events): its commit keeps the key cache and tells
        no other process or node of a change.  Inside an open transaction it joins it, which then decides."""
        if self._in_own_transaction():
            with self._joined():
                yield
            return
        with self.transaction():
            yield
            self._keep_caches()

    @abstractmethod
    def _keep_caches(self) -> None:
        """The open transaction wrote only bookkeeping: its commit must outdate no cache (each store says how)."""

    @abstractmethod
    def _request_scrub(self) -> None:
        """The current transaction deletes secret material: erase what the files keep of it once it commits."""

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Insert ``rows`` into ``table`` exactly as given, in one statement (``kmsd store copy``).

        Names are checked to be plain identifiers: they come from the source database's result, not from kmsd.
        A multi-row ``VALUES`` list is the one bulk insert both dialects accept through :meth:`_write`; the
        caller keeps ``len(rows) * len(columns)`` under SQLite's limit of 32 766 parameters.
        """
        for name in (table, *columns):
            if not _IDENTIFIER.fullmatch(name):
                raise StoreError(f"cannot copy a column or table named {name!r}")
        if not rows:
            return
        row_values = "(" + ", ".join(["?"] * len(columns)) + ")"
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([row_values] * len(rows))
        self._write(sql, [value for row in rows for value in row], f"rows of {table}")

    def count_rows(self, table: str) -> int:
        """How many rows ``table`` holds (inside the caller's transaction: counting its own writes)."""
        if not _IDENTIFIER.fullmatch(table):
            raise StoreError(f"cannot count a table named {table!r}")
        row = self._fetchone(f"SELECT count(*) FROM {table}")
        assert row is not None
        return int(row[0])

    def _update_stored(self, sql: str, parameters: Sequence[Any], what: str) -> None:
        if self._write(sql, parameters, what) == 0:
            raise StoreError(f"{what} cannot be updated: it is not stored")

    def _in_own_transaction(self) -> bool:
        return self._owner == threading.get_ident()

    @contextmanager
    def _joined(self) -> Iterator[None]:
        """A nested transaction block: it joins the open transaction, and an exception inside dooms all of it."""
        try:
            yield
        except BaseException:
            self._doomed = True
            raise

    # --- key cache ---------------------------------------------------------------------

    @abstractmethod
    def _key_cache_is_current(self) -> bool:
        """Whether the cache may answer now: no commit of another process is known to have passed it by."""

    def _forget_cached_keys(self) -> None:
        with self._key_cache_lock:
            self._key_cache_generation += 1
            self._key_cache.clear()
