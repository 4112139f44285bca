"""Turn a ``--store`` URL into an open :class:`~kmsd.store.base.Store`.

The forms follow the SQLAlchemy convention that users already know:
``sqlite:///relative/path.db`` (three slashes, path relative to the working
directory, e.g. the default ``sqlite:///./.kmsd/kmsd.db``) and
``sqlite:////absolute/path.db`` (four slashes).  Percent-escapes in the path
are decoded.  Missing parent directories of a SQLite file are created.
``postgresql://user:password@host:port/dbname?sslmode=...`` (or ``postgres://``, or SQLAlchemy's
``postgresql+psycopg://``) opens a PostgreSQL store: the URL is libpq's, passed on as it is.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from kmsd.store.base import Store, StoreError
from kmsd.store.local_commits import LocalCommits
from kmsd.store.sqlite import SqliteStore
from kmsd.store.url_passwords import redacted as redacted  # where the rest of kmsd imports it from

_SQLITE_PREFIX = "sqlite://"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite://`` URL names."""
    rest = url[len(_SQLITE_PREFIX) :]
    if not rest.startswith("/"):
        # sqlite://host/... : a host makes no sense for a local file, and it is usually a missing slash.
        raise StoreError(f"invalid store URL `{url}`: use sqlite:///relative/path.db or sqlite:////abs/path.db")
    if "?" in rest or "#" in rest:
        raise StoreError(f"invalid store URL `{url}`: SQLite store URLs take no query or fragment")
    path = unquote(rest[1:])
    if path in ("", ":memory:"):
        raise StoreError(f"invalid store URL `{url}`: name a database file, e.g. sqlite:///./.kmsd/kmsd.db")
    return Path(path)


def open_store(url: str, *, local_commits: Path | None = None) -> Store:
    """Open (creating when needed) the store ``url`` names; StoreError for anything unusable.

    ``local_commits`` is the commit counter file the workers of one ``kmsd serve --workers`` share, for a
    PostgreSQL store (:mod:`kmsd.store.local_commits`; a SQLite store sees other processes' commits itself).
    """
    if url.startswith(_SQLITE_PREFIX):
        path = sqlite_path(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the directory for the store at {path}: {error}") from error
        return SqliteStore(path)
    if is_postgres_url(url):
        return open_postgres_store(url, local_commits)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreError(
        f"unsupported store URL scheme `{scheme}`: use sqlite:///path/to/kmsd.db or postgresql://user@host/dbname"
    )


def open_postgres_store(url: str, local_commits: Path | None) -> Store:
    try:
        from kmsd.store.postgres import PostgresStore
    except ImportError as error:
        raise StoreError("a PostgreSQL store needs psycopg: pip install 'kmsd[postgres]'") from error
    counter = LocalCommits(local_commits) if local_commits is not None else None
    try:
        return PostgresStore(postgres_conninfo(url), description=redacted(url), local_commits=counter)
    except BaseException:
        if counter is not None:
            counter.close()
        raise


def is_postgres_url(url: str) -> bool:
    return url.startswith(_POSTGRES_SCHEMES)


def postgres_conninfo(url: str) -> str:
    """The libpq URI of a ``postgresql://`` (or ``postgres://``, ``postgresql+psycopg://``) store URL."""
    return "postgresql://" + url.split("://", 1)[1]
