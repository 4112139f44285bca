"""The PostgreSQL store: :class:`PostgresStore`, for several kmsd nodes over one database.

``store`` connects, migrates and answers the lifecycle calls; ``connections`` runs statements and transactions
through a psycopg 3 pool; ``schema`` is PostgreSQL's form of every migration; ``notifications`` hears other
nodes' commits.  The queries are :mod:`kmsd.store.sql`'s, shared with SQLite.  psycopg is the ``postgres``
extra: this package is imported only for a ``postgresql://`` store URL.
"""

from kmsd.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
