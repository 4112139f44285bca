"""Graceful shutdown: on SIGTERM a real ``kmsd serve`` finishes the call in flight, refuses new connections, exits 0.

The call in flight is a CreateKey whose write transaction waits for PostgreSQL's writer lock
(``pg_advisory_xact_lock``), which the test holds on a connection of its own; ``pg_locks`` shows the
server waiting for it, so the test knows the call is in flight before it sends the signal, without a sleep
standing in for that knowledge.  The lock is let go only once a new connection has been refused.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kmsd.store.postgres.connections import WRITER_LOCK
from tests.helpers.clients import client
from tests.integration.server import KmsdServer
from tests.integration.stores import Stores

_WAITING = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _until(condition: Any, what: str, attempts: int = 600) -> None:
    """Poll ``condition`` (at most ``attempts`` times, 50 ms apart) until it holds."""
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.postgresql_only("the call in flight waits on PostgreSQL's writer lock, which the test holds and watches")
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_the_call_in_flight_refuses_new_connections_and_exits_0(
    tmp_path: Path, stores: Stores, workers: int
) -> None:
    extra = ["--workers", str(workers)] if workers > 1 else []
    server = KmsdServer(tmp_path / "kmsd", stores.new(tmp_path / "kmsd"), extra_args=extra).start()
    try:
        kms = client(server, "kms", server.default_credentials())
        kms.list_keys()  # a connection is open and the credentials are cached: the CreateKey goes straight in
        answers: list[dict[str, Any]] = []
        with psycopg.connect(server.store_url) as holder, psycopg.connect(server.store_url, autocommit=True) as watcher:
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            in_flight = threading.Thread(target=lambda: answers.append(kms.create_key(Description="in flight")))
            in_flight.start()
            _until(lambda: watcher.execute(_WAITING).fetchone() == (1,), "the CreateKey waits for the writer lock")

            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            _until(lambda: _refused(server.port), "a new connection is refused")
            assert in_flight.is_alive() and answers == []  # still waiting for the lock the test holds
            holder.commit()  # lets the server's transaction go on

        in_flight.join(timeout=60)
        assert not in_flight.is_alive()
        assert answers[0]["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert answers[0]["KeyMetadata"]["Description"] == "in flight"
        assert server.process.wait(timeout=60) == 0
        assert "Traceback" not in server.output()
    finally:
        server.stop()
        stores.release(server.store_url)
