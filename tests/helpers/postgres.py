"""Throwaway PostgreSQL databases for one pytest run: each store gets a database of its own, all dropped at the end.

The server is ``KMSD_TEST_POSTGRES_DSN`` (a ``postgresql://`` URL naming a maintenance database the user may
``CREATE DATABASE`` from), by default the trust-auth PostgreSQL such machines run on 127.0.0.1:5432.  Names
carry a prefix unique to the run (process id and random letters), so parallel runs on one server never
touch each other's databases, and the drop at the end removes exactly what this run made.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

DSN_ENV = "KMSD_TEST_POSTGRES_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
_SCHEMES = ("postgresql", "postgres")


class PostgresUnavailable(Exception):
    """The test PostgreSQL cannot be reached or used; the message says what to do about it."""


def configured_dsn() -> str:
    return os.environ.get(DSN_ENV) or DEFAULT_DSN


def with_database(dsn: str, name: str) -> str:
    """``dsn`` with its database replaced by ``name`` (user, host, port and query parameters kept)."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class PostgresDatabases:
    """Creates databases named ``<prefix>_<n>`` on one server, and drops every one it created."""

    def __init__(self, dsn: str) -> None:
        if urlsplit(dsn).scheme not in _SCHEMES:
            raise PostgresUnavailable(f"{DSN_ENV}={dsn!r} is not a postgresql:// URL (kmsd's --store takes URLs)")
        self.dsn = dsn
        self.prefix = f"kmsd_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._numbers = itertools.count()
        self._created: list[str] = []
        try:
            # Autocommit: CREATE and DROP DATABASE cannot run inside a transaction block.
            self._admin = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            raise PostgresUnavailable(
                f"cannot use the test PostgreSQL at {dsn}: {error}".rstrip()
                + f"\nThe PostgreSQL half of tests/integration needs one: start it, point {DSN_ENV} at it, "
                "or run only the SQLite half with --store-kind sqlite."
            ) from None  # the message has all of it; a chained traceback would only repeat it

    def create(self) -> str:
        """A new, empty database; its ``postgresql://`` URL."""
        name = f"{self.prefix}_{next(self._numbers)}"
        self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return with_database(self.dsn, name)

    def drop(self, url: str) -> None:
        """Drop the database of ``url`` now (FORCE ends a connection a killed server left behind)."""
        name = urlsplit(url).path.lstrip("/")
        if name in self._created:
            self._admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            self._created.remove(name)

    def drop_all(self) -> None:
        """Drop every database this run created and close the maintenance connection."""
        try:
            for name in list(self._created):
                self.drop(with_database(self.dsn, name))
        finally:
            self._admin.close()


def session_databases() -> Iterator[PostgresDatabases]:
    """The body of a session fixture: the test PostgreSQL's databases, all dropped at the end, whatever the tests
    did; a PostgreSQL that cannot be used fails the tests that need it (never a skip: CI must go red)."""
    try:
        databases = PostgresDatabases(configured_dsn())
    except PostgresUnavailable as error:
        problem = str(error)
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        yield databases
    finally:
        databases.drop_all()
