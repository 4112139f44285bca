"""The audit trail of a service of several nodes on PostgreSQL: events written by one node are found through
every other node's LookupEvents, and calls made on every node at once, read-only and mutating, extend one hash
chain that ``kmsd audit verify`` finds intact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.postgres import PostgresDatabases
from tests.multi_node.cluster import Cluster, cluster, run_together, wait_until


@pytest.fixture(scope="module")
def two_nodes(databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(databases, tmp_path_factory.mktemp("audit-nodes"), 2) as running:
        yield running


def request_ids(cloudtrail: Any, **attribute: str) -> set[str]:
    ((key, value),) = attribute.items()
    found = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])["Events"]
    return {json.loads(event["CloudTrailEvent"])["requestID"] for event in found}


def test_events_written_on_one_node_are_looked_up_on_another(two_nodes: Cluster) -> None:
    first, second = two_nodes.nodes
    kms = two_nodes.client(first)
    created = kms.create_key(Description="audited on node 1")
    key_arn = created["KeyMetadata"]["Arn"]
    encrypted = kms.encrypt(KeyId=key_arn, Plaintext=b"node one")
    cloudtrail = two_nodes.client(second, "cloudtrail")
    # CreateKey's event was stored before its answer; Encrypt's is written by node 1's queue, in its next batch.
    assert created["ResponseMetadata"]["RequestId"] in request_ids(cloudtrail, EventName="CreateKey")
    wait_until(lambda: encrypted["ResponseMetadata"]["RequestId"] in request_ids(cloudtrail, ResourceName=key_arn), 5)


def test_calls_on_every_node_at_once_extend_one_intact_chain(two_nodes: Cluster) -> None:
    clients = [two_nodes.client(node) for node in two_nodes.nodes for _ in range(2)]
    key_id = clients[0].create_key()["KeyMetadata"]["KeyId"]

    def calls(client: Any) -> Any:
        def run() -> None:
            for index in range(10):
                client.encrypt(KeyId=key_id, Plaintext=b"x")
                client.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"t{index % 3}", "TagValue": "v"}])

        return run

    results = run_together([calls(client) for client in clients])
    assert all(result is None for result in results), results
    # Each node writes what it queued at its shutdown; then the whole chain is checked.
    two_nodes.stop()
    done = two_nodes.nodes[0].command("audit", "verify", "--store", two_nodes.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit trail intact" in done.stdout
    (count,) = two_nodes.query(
        "SELECT count(*) FROM audit_events WHERE event_name IN ('Encrypt', 'TagResource') AND sequence IN "
        "(SELECT sequence FROM audit_event_resources WHERE resource_name LIKE %s)",
        (f"%:key/{key_id}",),
    )
    assert count[0] == 80
    (sequences,) = two_nodes.query("SELECT min(sequence), max(sequence), count(*) FROM audit_events")
    assert sequences[0] == 1 and sequences[1] == sequences[2]  # no gap, however the nodes interleaved
