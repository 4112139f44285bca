"""The kind of migration that rebuilds tables other tables refer to: SQLite's twelve-step ALTER TABLE procedure.

SQLite can change neither a table's primary key nor its foreign keys in
place; the table must be created anew under another name, filled, the old one
dropped and the new one renamed ("Making Other Kinds Of Table Schema
Changes", sqlite.org/lang_altertable.html).  With foreign keys enforced,
dropping a table that others refer to with ``ON DELETE CASCADE`` deletes
their rows, so the procedure turns enforcement off *outside* the transaction
(``PRAGMA foreign_keys`` is a no-op inside one), rebuilds, asks
``PRAGMA foreign_key_check`` that every reference still holds, commits and
turns enforcement back on.  A migration that needs this is a
:class:`TableRebuild` instead of a plain tuple of statements, and the SQLite
store's migration runner (:meth:`kmsd.store.sqlite.store.SqliteStore._migrate`)
follows the procedure for it.
"""

from __future__ import annotations


class TableRebuild(tuple[str, ...]):
    """A migration's statements, to run with foreign keys off and pass ``foreign_key_check`` before commit."""

    __slots__ = ()
