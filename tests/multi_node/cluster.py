"""Several ``kmsd serve`` nodes on one PostgreSQL database: one service, as an operator would run it.

Every node gets the same ``KMSD_ROOT_KEY`` (a store has one root key, and a node with another is refused) and
its own ``PGAPPNAME``, so that the test can tell each node's connections apart in ``pg_stat_activity`` (the
listener's, the background lease's).  The first node to open the store creates the default account and prints
its root credentials; the others print none, so every client signs with the first node's.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import ClientError

from kmsd.crypto.root_key import ROOT_KEY_BYTES, ROOT_KEY_ENV
from tests.helpers.postgres import PostgresDatabases
from tests.integration.server import KmsdServer
from tests.multi_node.pg_proxy import PostgresProxy

VISIBILITY_BOUND = 1.0  # the promise: a change is honoured by every node within one second

T = TypeVar("T")


@dataclass
class Node(KmsdServer):
    """One ``kmsd serve`` of the service, on the shared database (its ``store_url``)."""

    name: str = ""


@dataclass
class Cluster:
    """N nodes on one database; ``credentials`` are the default account's root credentials (node 1 printed them)."""

    url: str
    base_dir: Path
    root_key: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(ROOT_KEY_BYTES)).decode())
    nodes: list[Node] = field(default_factory=list)
    credentials: tuple[str, str] = ("", "")
    _session: boto3.session.Session = field(default_factory=boto3.session.Session)

    def add(self, *, extra_args: list[str] | None = None, url: str | None = None) -> Node:
        """Start one more node (on ``url`` if given: the same database through a proxy, say)."""
        index = len(self.nodes) + 1
        name = f"kmsd-node-{index}"
        node = Node(
            self.base_dir / name,
            url or self.url,
            extra_args=extra_args or [],
            extra_env={ROOT_KEY_ENV: self.root_key, "PGAPPNAME": name},
            name=name,
        )
        node.start()
        if not self.nodes:
            self.credentials = node.default_credentials()
        self.nodes.append(node)
        return node

    def client(
        self, node: Node, service: str = "kms", credentials: tuple[str, str] | None = None, token: str | None = None
    ) -> Any:
        """A new client of ``node``, signed as given or as root; make clients on the test's thread only (a boto3
        session is not thread-safe; its clients are, and each racing thread gets one of its own)."""
        access_key, secret_key = credentials or self.credentials
        # One session for all: it loads each service's model once, where a session per client takes ~0.2 s.
        return self._session.client(
            service,
            endpoint_url=node.endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 1}, parameter_validation=False, max_pool_connections=4),
        )

    def query(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` on the service's database (a connection of the test's own)."""
        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(statement.encode(), parameters).fetchall()  # type: ignore[arg-type]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def through(proxy: PostgresProxy, url: str) -> str:
    """``url`` by way of ``proxy``, without TLS (the proxy reads the protocol)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{proxy.port}", parts.path, "sslmode=disable", ""))


def proxy_for(url: str) -> PostgresProxy:
    parts = urlsplit(url)
    return PostgresProxy(parts.hostname or "127.0.0.1", parts.port or 5432)


@contextmanager
def cluster(databases: PostgresDatabases, base_dir: Path, size: int, **add: Any) -> Iterator[Cluster]:
    running = Cluster(databases.create(), base_dir)
    try:
        for _ in range(size):
            running.add(**add)
        yield running
    finally:
        running.stop()


def error_code(call: Callable[[], Any]) -> str | None:
    """The AWS error code ``call`` raised, or None when it succeeded."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def wait_until(honoured: Callable[[], bool], bound: float = VISIBILITY_BOUND) -> float:
    """Seconds until ``honoured()`` first held, polling without pause; AssertionError past ``bound`` (plus a margin
    for one last request, so that a bound that just held is not failed by the poll's own duration)."""
    start = time.monotonic()
    while True:
        if honoured():
            return time.monotonic() - start
        elapsed = time.monotonic() - start
        if elapsed > bound + 0.5:
            raise AssertionError(f"not honoured after {elapsed:.3f} s")


def run_together(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run every call on a thread of its own, released at the same instant; each result or raised exception."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
