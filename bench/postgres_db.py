"""A fresh PostgreSQL database for one benchmark run, dropped at the end, and the CPU time PostgreSQL spends.

The scaling benchmark serves kmsd from several nodes on one PostgreSQL store.
It creates a database of its own on the server it is given (``postgres`` user,
trust auth on the project's machine), so a run never touches anyone else's
data, and drops it on every exit path.

PostgreSQL runs one process per client connection (a *backend*) beside a few
server-wide ones (the postmaster, the WAL writer, the checkpointer...).  The
benchmark counts the backends connected to its own database, and the
server-wide processes, whose work (WAL flushes of kmsd's commits) is partly
its and partly that of other databases' clients: other databases' backends
are left out.  Their ``/proc/<pid>/cmdline`` says which is which, as
PostgreSQL sets it to ``postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE``
for a backend and ``postgres: [CLUSTER: ]walwriter`` and the like for the others.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from cpu_time import command_line, processes
from failures import BenchmarkFailure

# postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE, or [local] for a Unix socket (Debian names the cluster).
_BACKEND = re.compile(r"^postgres: (?:\S+: )?(\S+) (\S+) (\S+\(\d+\)|\[local\])")
_POSTGRES_COMMAND = re.compile(r"^(postgres: |\S*/postgres\b)")


@dataclass(frozen=True)
class PostgresCpu:
    """CPU seconds so far of the live PostgreSQL processes that work for the benchmark's database."""

    backends_s: float  # the backends connected to the benchmark's database
    server_s: float  # the server-wide processes (shared with other databases' clients)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on ``server_url`` (``postgresql://USER@HOST:PORT``); yields its URL, then drops it."""
    try:
        import psycopg
    except ImportError:
        raise BenchmarkFailure(
            "psycopg is not installed: run `make bench-scaling` (it installs the postgres extra)"
        ) from None
    name = f"kmsd_bench_{secrets.token_hex(4)}"
    parts = urlsplit(server_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f"CREATE DATABASE {name}")  # a fresh random name: nothing to quote
    except psycopg.Error as error:
        raise BenchmarkFailure(f"cannot create a database on {server_url}: {error}") from None
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        # FORCE ends the connections of any node that outlived its stop, so the database always goes.
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def postgres_cpu(database: str) -> PostgresCpu:
    """CPU seconds so far of ``database``'s backends and of the server-wide PostgreSQL processes.

    A backend that ends between two readings takes its CPU time with it; kmsd's nodes hold their
    connections open, so over a measured window the backends that serve them stay.
    """
    backends = server = 0.0
    for process in processes():
        shown = command_line(process.pid)
        if not _POSTGRES_COMMAND.match(shown):
            continue
        backend = _BACKEND.match(shown)
        if backend is None:
            server += process.cpu_s
        elif backend.group(2) == database:
            backends += process.cpu_s
    return PostgresCpu(backends, server)
