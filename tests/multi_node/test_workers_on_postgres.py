"""``kmsd serve --workers 2`` on PostgreSQL: read-your-writes across the workers of one node.

Each round caches a key in the reading worker, disables it through the writing worker, and asks the reading
worker again at once (a keep-alive connection pinned to each worker, as in tests/integration/test_workers.py).
The reading worker must refuse the key on that very next request, as it does on SQLite: before NOTIFY can
arrive, the node's workers see each other's commits through their shared commit counter
(:mod:`kmsd.store.local_commits`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.pinned_workers import error_type, pin_both_workers
from tests.helpers.postgres import PostgresDatabases
from tests.multi_node.cluster import Cluster, cluster

ROUNDS = 40


@pytest.fixture
def workers(databases: PostgresDatabases, tmp_path: Path) -> Iterator[Cluster]:
    with cluster(databases, tmp_path, 1, extra_args=["--workers", "2"]) as running:
        yield running


def test_a_write_on_one_worker_is_honoured_by_the_others_next_request(workers: Cluster) -> None:
    root = workers.credentials
    writer, reader = pin_both_workers(workers.nodes[0].port)
    try:
        stale = 0
        for _ in range(ROUNDS):
            key_id = writer.kms("CreateKey", root).body["KeyMetadata"]["KeyId"]
            assert reader.kms("Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=").status == 200
            assert writer.kms("DisableKey", root, KeyId=key_id).status == 200
            answer = reader.kms("Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=")
            if answer.status == 200:
                stale += 1
            else:
                assert error_type(answer) == "DisabledException"
    finally:
        writer.connection.close()
        reader.connection.close()
    print(f"\nworkers on PostgreSQL: {stale} of {ROUNDS} next requests were stale")
    assert stale == 0
